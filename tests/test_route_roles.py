"""Route audit: every route states who may use it, and the server enforces it.

Generic over ``app.url_map``: routes other areas add are covered as they appear.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UUIDConverter,
)

from examserver.auth.models import Role
from tests.conftest import csrf_token, make_app

ROLES = [role.value for role in Role]
PUBLIC_API = {"/api/login", "/api/exam/login"}


@pytest.fixture(scope="module")
def audit_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for the whole audit, with a user of every role and one object of each kind."""
    from examserver.extensions import db

    path = tmp_path_factory.mktemp("audit") / "audit.db"
    app = make_app("sqlite:///" + str(path))
    with app.app_context():
        from examserver.auth.operations import create_user
        from examserver.question_bank.models import Media
        from examserver.question_bank.operations import (
            create_question,
            ensure_topic,
            get_or_create_bank,
        )
        from examserver.question_bank.types import QuestionContent

        for role in ROLES:
            create_user(db.session, f"audit-{role}", "secret-pass", role)
        bank = get_or_create_bank(db.session, "AUDIT", "audit")
        create_question(
            db.session,
            bank,
            QuestionContent(type="judge", stem="审计题", options=[], answer=["T"]),
            topic=ensure_topic(db.session, bank, "审计"),
        )
        db.session.add(Media(sha256="0" * 64, mime="image/png", data=b"\x89PNG\r\n\x1a\n"))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _client(app: Flask, role: str | None) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = csrf_token(client)
    if role is not None:
        response = client.post(
            "/login",
            data={"username": f"audit-{role}", "password": "secret-pass", "csrf_token": token},
        )
        assert response.status_code == 302
        token = csrf_token(client)
    return client, token


def _guarded_rules(app: Flask) -> list[Rule]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in PUBLIC_API:
            continue
        if rule.rule.startswith(("/admin", "/api/")):
            rules.append(rule)
    return rules


def _url(rule: Rule) -> str:
    """Build a URL for ``rule``, with an existing id (1) for every numeric parameter."""
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif isinstance(converter, FloatConverter):
            values[name] = 1.0
        elif isinstance(converter, UUIDConverter):
            values[name] = "00000000-0000-0000-0000-000000000001"
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, PathConverter):
            values[name] = "x/y"
        else:
            values[name] = "1"
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def _methods(rule: Rule) -> list[str]:
    methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    return methods


def _call(client: FlaskClient, method: str, url: str, token: str):
    headers = {"X-CSRFToken": token}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.open(url, method=method, data={"csrf_token": token}, headers=headers)


def test_every_endpoint_states_who_may_use_it(audit_app: Flask) -> None:
    unmarked = []
    for endpoint, view in audit_app.view_functions.items():
        if endpoint == "static":
            continue
        if not hasattr(view, "allowed_roles"):
            unmarked.append(endpoint)
    assert unmarked == [], f"routes without roles_required or public: {unmarked}"


def test_the_audit_sees_the_bank_pages(audit_app: Flask) -> None:
    rules = {rule.rule for rule in _guarded_rules(audit_app)}
    for path in (
        "/admin/questions",
        "/admin/questions/bulk",
        "/admin/questions/<int:question_id>/edit",
        "/admin/media",
        "/admin/banks/<int:bank_id>/topics",
    ):
        assert path in rules


def test_admin_routes_are_for_bank_editors_or_narrower(audit_app: Flask) -> None:
    for rule in _guarded_rules(audit_app):
        if not rule.rule.startswith("/admin"):
            continue
        roles = getattr(audit_app.view_functions[rule.endpoint], "allowed_roles", ())
        assert roles is not None, f"{rule.rule} is public"
        assert set(roles) <= {"admin", "staff"}, f"{rule.rule} allows {roles}"


def test_anonymous_callers_are_sent_to_login(audit_app: Flask) -> None:
    client, token = _client(audit_app, None)
    for rule in _guarded_rules(audit_app):
        url = _url(rule)
        for method in _methods(rule):
            response = _call(client, method, url, token)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, url, response.status_code)
            else:
                assert response.status_code == 302, (method, url, response.status_code)
                assert response.headers["Location"].startswith("/login"), (method, url)


@pytest.mark.parametrize("role", ROLES)
def test_other_roles_are_forbidden(audit_app: Flask, role: str) -> None:
    client, token = _client(audit_app, role)
    checked = 0
    for rule in _guarded_rules(audit_app):
        view = audit_app.view_functions[rule.endpoint]
        allowed = getattr(view, "allowed_roles", None)
        if allowed is None or role in allowed:
            continue
        url = _url(rule)
        for method in _methods(rule):
            response = _call(client, method, url, token)
            assert response.status_code == 403, (role, method, url, response.status_code)
            checked += 1
    if role not in ("admin", "staff"):
        assert checked > 0  # every non-editor role is refused the bank pages at least


def test_api_logout_answers_401_to_anonymous_callers(audit_app: Flask) -> None:
    client, token = _client(audit_app, None)
    assert _call(client, "POST", "/api/logout", token).status_code == 401
