"""Staff accounts, roles, login and the role checks every route uses."""
