"""`make demo` in a browser: an administrator logs in and finds the question bank, in Chinese."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def _login(page: Any, base_url: str, world: dict[str, Any], role: str) -> None:
    login = next(entry for entry in world["logins"] if entry["role"] == role)
    page.goto(base_url + "/login")
    page.fill("input[name=username]", login["username"])
    page.fill("input[name=password]", login["password"])
    page.click("main button[type=submit]")


def test_admin_sees_the_bank_in_chinese(page: Any, demo_server: dict[str, Any]) -> None:
    base = demo_server["base_url"]
    page.goto(base + "/")
    assert "登录" in page.content()  # the login page speaks Chinese by default
    _login(page, base, demo_server, "admin")
    page.wait_for_url(re.compile(r".*/admin/questions.*"))
    nav = page.inner_text("nav.mainnav")
    assert "题目" in nav and "题库" in nav and "组卷规则" in nav
    rows = page.locator("table.bank-table tbody tr")
    assert rows.count() > 0
    body = page.inner_text("main")
    assert "熔化焊接与热切割作业" in body or "危险化学品" in body
    # Filter by type: every row shown is a multiple-response question.
    page.select_option("#question-filters select[name=type]", "multi")
    page.click("#question-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*type=multi.*"))
    types = page.locator("table.bank-table tbody tr td:nth-child(3)").all_inner_texts()
    assert types and all(t.strip() == "多选题" for t in types)
    # Search the stems: every row shown contains the term.
    page.fill("#question-filters input[name=q]", "乙炔")
    page.select_option("#question-filters select[name=type]", "")
    page.click("#question-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*q=.*"))
    stems = page.locator("table.bank-table tbody tr td.bank-stem").all_inner_texts()
    assert stems and all("乙炔" in stem for stem in stems)


def test_wrong_password_is_refused_in_chinese(page: Any, demo_server: dict[str, Any]) -> None:
    page.goto(demo_server["base_url"] + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("main button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("main")
    assert "/login" in page.url


def test_english_can_be_chosen(page: Any, demo_server: dict[str, Any]) -> None:
    page.goto(demo_server["base_url"] + "/login")
    page.click("text=English")
    page.wait_for_load_state()
    assert "Staff login" in page.inner_text("main")
