"""Staff accounts: creation from the CLI, login and logout, CSRF, the JSON login."""

from __future__ import annotations

from pathlib import Path

from examserver.auth.models import User
from examserver.extensions import db
from tests.conftest import csrf_token


def test_user_create_reads_the_password_file(app, runner, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("correct horse battery\n")
    result = runner.invoke(
        args=["user", "create", "--role", "proctor", "--password-file", str(secret), "wang.li"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.query(User).filter_by(username="wang.li").one()
        assert user.role == "proctor"
        assert user.check_password("correct horse battery")
        assert "correct horse" not in user.password_hash


def test_user_create_prompts_for_the_password(app, runner) -> None:
    result = runner.invoke(
        args=["user", "create", "--role", "admin", "root1"], input="s3cret-pass\ns3cret-pass\n"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.query(User).filter_by(username="root1").one().check_password("s3cret-pass")


def test_user_create_refuses_bad_input(app, runner, tmp_path: Path) -> None:
    short = tmp_path / "pw"
    short.write_text("short\n")
    weak = runner.invoke(args=["user", "create", "--role", "admin", "--password-file", str(short), "a1"])
    assert weak.exit_code != 0 and "weak_password" in weak.output
    role = runner.invoke(args=["user", "create", "--role", "king", "--password-file", str(short), "a1"])
    assert role.exit_code == 2
    good = tmp_path / "good"
    good.write_text("long-enough-pass\n")
    name = runner.invoke(
        args=["user", "create", "--role", "admin", "--password-file", str(good), "bad name!"]
    )
    assert name.exit_code != 0 and "bad_username" in name.output
    assert runner.invoke(
        args=["user", "create", "--role", "admin", "--password-file", str(good), "dup"]
    ).exit_code == 0
    again = runner.invoke(
        args=["user", "create", "--role", "staff", "--password-file", str(good), "dup"]
    )
    assert again.exit_code != 0 and "username_taken" in again.output
    with app.app_context():
        assert db.session.query(User).filter_by(username="dup").one().role == "admin"


def test_login_and_logout(client, create_user) -> None:
    create_user("li.ming", "admin", "secret-pass")
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": "li.ming", "password": "secret-pass", "csrf_token": token}
    )
    assert response.status_code == 302
    assert client.get("/admin/questions").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/questions")})
    assert response.status_code == 302
    assert client.get("/admin/questions").status_code == 302


def test_wrong_password_is_refused(client, create_user) -> None:
    create_user("li.ming", "admin", "secret-pass")
    response = client.post(
        "/login",
        data={"username": "li.ming", "password": "wrong-pass", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 200
    assert client.get("/admin/questions").status_code == 302


def test_login_form_without_csrf_token_is_refused(client, create_user) -> None:
    create_user("li.ming", "admin", "secret-pass")
    response = client.post("/login", data={"username": "li.ming", "password": "secret-pass"})
    assert response.status_code == 400
    assert b"csrf_failed" in response.data
    assert client.get("/admin/questions").status_code == 302


def test_login_does_not_redirect_off_site(client, create_user) -> None:
    create_user("li.ming", "admin", "secret-pass")
    response = client.post(
        "/login?next=https://evil.example/x",
        data={"username": "li.ming", "password": "secret-pass", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_inactive_user_cannot_log_in(app, client, create_user) -> None:
    user_id = create_user("gone", "staff", "secret-pass")
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    response = client.post(
        "/login", data={"username": "gone", "password": "secret-pass", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 200
    assert client.get("/admin/questions").status_code == 302


def test_api_login_sets_the_session_cookie(client, create_user) -> None:
    create_user("proctor1", "proctor", "secret-pass")
    response = client.post("/api/login", json={"username": "proctor1", "password": "secret-pass"})
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "proctor"
    assert client.get("/admin/questions").status_code == 403  # logged in, wrong role


def test_api_login_errors_have_stable_codes(client, create_user) -> None:
    create_user("proctor1", "proctor", "secret-pass")
    cases = [
        ({"username": "proctor1", "password": "nope-nope"}, 401, "bad_credentials"),
        ({"username": 5, "password": "x"}, 400, "bad_payload"),
        ({"username": "x" * 100, "password": "y"}, 400, "bad_payload"),
        (["not", "an", "object"], 400, "bad_payload"),
    ]
    for payload, status, code in cases:
        response = client.post("/api/login", json=payload)
        assert response.status_code == status
        assert response.get_json()["error"]["code"] == code
    response = client.post("/api/login", data="garbage", content_type="application/json")
    assert response.get_json()["error"]["code"] == "bad_payload"


def test_unknown_page_is_a_clean_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_language_switch_to_english(client) -> None:
    assert "员工登录" in client.get("/login").get_data(as_text=True)
    client.post("/lang/en", data={"csrf_token": csrf_token(client)})
    assert "Staff login" in client.get("/login").get_data(as_text=True)
    assert client.post("/lang/xx", data={"csrf_token": csrf_token(client)}).status_code == 404
