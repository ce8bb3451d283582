"""Flask extensions, created unbound here and bound to an app in create_app."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from examserver.db import Base

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
socketio = SocketIO()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
