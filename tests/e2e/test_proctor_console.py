"""The proctor console in real Chromium against `examserver demo`, with candidates on the real
terminal page in their own browser contexts: the proctor sees their progress live, pauses one,
extends another, force-submits a third, records incidents (an expulsion confirmed by a second
proctor), watches the console rebuild after a network loss, and a patrol inspector watches
read-only, and the exam-room record opens from the console. In the proctor-mode room the proctor verifies identities, starts the room, lets a
late arrival in, announces and closes the session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

WINDOW_SESSION = "DEMO-WHP-RT"  # window mode, 10 questions, 30 minutes
PROCTOR_SESSION = "DEMO-HJ-01"  # the proctor starts the room
# Candidates of DEMO-WHP-RT by position: test_exam_terminal keeps to the third (-03).
WINDOW_CANDIDATES = (0, 1, 3)
WAIT = 15_000  # ms: the bound of every wait
RECONNECT_WAIT = 30_000  # ms: Socket.IO's reconnection backs off up to 5 s between tries


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def expect() -> Iterator[Any]:
    """Playwright's expect with this module's bound instead of 5 s, restored after."""
    expect = _expect()
    expect.set_options(timeout=WAIT)
    yield expect
    expect.set_options(timeout=5_000)


@pytest.fixture
def contexts(browser: Any) -> Iterator[Any]:
    """Open browser contexts (one per person) on demand; all are closed after the test."""
    opened: list[Any] = []

    def new_page() -> Any:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
        opened.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT)
        return page

    yield new_page
    for context in opened:
        context.close()


def _session(world: dict[str, Any], code: str) -> dict[str, Any]:
    return next(s for s in world["sessions"] if s["code"] == code)


def _password(world: dict[str, Any], username: str) -> str:
    return str(next(e["password"] for e in world["logins"] if e["username"] == username))


# ------------------------------------------------------------------------------ the console
def _open_console(page: Any, world: dict[str, Any], username: str, session_id: int) -> None:
    """Log a staff member in with the login form and open the console of a session."""
    base = world["base_url"]
    console_path = f"/proctor/sessions/{session_id}"
    page.goto(f"{base}/login?next={console_path}")
    form = page.locator("form:has(input[name=password])")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(_password(world, username))
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(console_path) + "$"))
    _expect()(page.locator("#conn-state")).to_have_attribute("data-state", "live", timeout=WAIT)


def _tile(console: Any, admission_no: str) -> Any:
    return console.locator(f"#seat-map .pc-tile[data-admission-no='{admission_no}']")


def _select(console: Any, admission_no: str) -> None:
    _tile(console, admission_no).click()
    _expect()(console.locator("#candidate-panel")).to_be_visible()
    _expect()(console.locator("#p-admission")).to_have_text(admission_no)


def _act(
    console: Any, action: str, admission_no: str | None = None, warns: bool = False, **fields: str
) -> Any:
    """Open an action's dialog (for a candidate, or the room), fill it in and send it;
    ``warns``: the dialog shows a warning of what the action does before it is sent."""
    if admission_no is not None:
        _select(console, admission_no)
        console.click(f"#panel-actions button[data-action='{action}']")
    else:
        console.click(f"#room-actions button[data-action='{action}']")
    dialog = console.locator("#action-dialog")
    _expect()(dialog).to_be_visible()
    assert dialog.get_attribute("data-action") == action
    for name, value in fields.items():
        if name == "kind":
            dialog.locator(f"input[name=kind][value='{value}']").check()
        else:
            dialog.locator(f"[name='{name}']").fill(value)
    if warns:
        _expect()(dialog.locator("#action-warning")).to_be_visible()
        _expect()(dialog.locator("#action-warning")).not_to_be_empty()
    dialog.locator("#action-submit").click()
    return dialog


def _done(console: Any, dialog: Any) -> None:
    """The action was acknowledged: the dialog closed and a success flashed."""
    _expect()(dialog).to_be_hidden()
    _expect()(console.locator("#toast")).to_have_attribute("data-kind", "ok")


def _counter(console: Any, name: str) -> Any:
    return console.locator(f"#counter-{name}")


def _log(console: Any, kind: str) -> Any:
    return console.locator(f"#event-log li[data-kind='{kind}']")


# ------------------------------------------------------------------------------ the terminals
def _sign_in(page: Any, base: str, candidate: dict[str, Any]) -> None:
    expect = _expect()
    page.goto(base + "/exam")
    expect(page.locator("#screen-login")).to_be_visible()
    page.fill("#admission-no", candidate["admission_no"])
    page.fill("#id-number", candidate["id_number"])
    page.click("#login-button")
    expect(page.locator("#screen-details")).to_be_visible()


def _answer(page: Any, count: int) -> None:
    """Answer ``count`` questions from the current one on (the first option), and wait for the ack."""
    expect = _expect()
    for i in range(count):
        if i:
            page.click("#next-button")
        page.locator("#question-box label.exam-option").first.click()
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")


def _clock_seconds(page: Any) -> int:
    text = page.locator("#clock").inner_text().strip()
    parts = [int(p) for p in text.split(":")]
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


# ------------------------------------------------------------------------------ window mode
def test_proctor_runs_a_window_mode_room(
    demo_server: dict[str, Any], contexts: Any, expect: Any, tmp_path: Path
) -> None:
    base = demo_server["base_url"]
    exam = _session(demo_server, WINDOW_SESSION)
    candidates = [exam["candidates"][i] for i in WINDOW_CANDIDATES]
    paused, extended, submitted = (c["admission_no"] for c in candidates)
    bystander = exam["candidates"][4]["admission_no"]

    console = contexts()
    _open_console(console, demo_server, "proctor", exam["id"])
    expect(console.locator("#seat-map .pc-tile")).to_have_count(len(exam["candidates"]))
    expect(_counter(console, "total")).to_have_text(str(len(exam["candidates"])))
    assert console.locator("#console").get_attribute("data-can-act") == "1"
    # Deltas change one tile each: a tile nobody touches stays the same element all along.
    _tile(console, bystander).evaluate("tile => { tile.dataset.probe = 'kept'; }")

    # Three candidates sign in, start and answer: the console follows each of them live.
    terminals = {}
    for candidate, answers in zip(candidates, (1, 2, 3), strict=True):
        terminal = contexts()
        _sign_in(terminal, base, candidate)
        terminal.click("#start-button")
        expect(terminal.locator("#screen-exam")).to_be_visible()
        tile = _tile(console, candidate["admission_no"])
        expect(tile).to_have_attribute("data-status", "answering")
        expect(tile.locator(".pc-answered")).to_have_text("0/10")
        _answer(terminal, answers)
        expect(tile.locator(".pc-answered")).to_have_text(f"{answers}/10")
        terminals[candidate["admission_no"]] = terminal
    expect(_counter(console, "answering")).to_have_text("3")
    expect(_counter(console, "present")).to_have_text("3")
    expect(_log(console, "login")).to_have_count(3)
    expect(_tile(console, bystander)).to_have_attribute("data-probe", "kept")
    expect(_tile(console, bystander)).to_have_attribute("data-status", "not_arrived")

    # The table view shows the same room, sortable by status (what needs attention first).
    console.click("button[data-view='table']")
    expect(console.locator("#roster-wrap")).to_be_visible()
    expect(console.locator("#roster-body tr")).to_have_count(len(exam["candidates"]))
    console.click("button[data-sort='status']")
    first = console.locator("#roster-body tr").first
    expect(first).to_have_attribute("data-status", "answering")
    console.click("button[data-view='map']")
    expect(console.locator("#seat-map")).to_be_visible()

    # Pause: a reason is required (the server says so and nothing changes), then given.
    dialog = _act(console, "pause", paused)
    expect(dialog.locator("#action-error")).to_have_attribute("data-code", "reason_required")
    expect(dialog.locator("#action-error")).not_to_be_empty()
    expect(_tile(console, paused)).to_have_attribute("data-status", "answering")
    reason = "显示器故障，更换设备"
    dialog.locator("[name=reason]").fill(reason)
    dialog.locator("#action-submit").click()
    _done(console, dialog)
    expect(_tile(console, paused)).to_have_attribute("data-status", "paused")
    expect(_tile(console, paused).locator(".pc-time")).to_have_attribute("data-kind", "frozen")
    expect(_counter(console, "paused")).to_have_text("1")
    expect(console.locator("#p-pause-reason")).to_have_text(reason)
    paused_page = terminals[paused]
    expect(paused_page.locator("#paused-overlay")).to_be_visible()
    expect(paused_page.locator("#paused-reason")).to_have_text(reason)
    expect(paused_page.locator("#bar-clock")).to_have_class(re.compile(r"\bpaused\b"))
    clock_at_pause = paused_page.locator("#clock").inner_text()
    expect(_log(console, "pause").first).to_contain_text(reason)

    # Extend: the candidate's remaining time grows by the minutes given, on both screens.
    extended_page = terminals[extended]
    before = _clock_seconds(extended_page)
    dialog = _act(console, "extend", extended, minutes="10", reason="视力障碍，经考点批准延时")
    _done(console, dialog)
    extended_page.wait_for_function(
        "limit => { const [m, s] = document.querySelector('#clock').textContent.split(':');"
        " return Number(m) * 60 + Number(s) > limit; }",
        arg=before + 9 * 60,
        timeout=WAIT,
    )
    tile_time = _tile(console, extended).locator(".pc-time").inner_text()
    assert int(tile_time.split(":")[0]) >= 38, tile_time
    expect(_log(console, "extend").first).to_contain_text("经考点批准延时")

    # Force-submit: the terminal shows the result; the tile says handed in.
    dialog = _act(
        console, "force_submit", submitted, warns=True, reason="考生突发身体不适，本人要求交卷"
    )
    _done(console, dialog)
    expect(terminals[submitted].locator("#screen-result")).to_be_visible()
    expect(_tile(console, submitted)).to_have_attribute("data-status", "submitted")
    expect(_tile(console, submitted).locator(".pc-time")).to_have_attribute(
        "data-kind", re.compile("passed|failed")
    )
    expect(_counter(console, "submitted")).to_have_text("1")

    # A warning: in the log and on the tile.
    note = "偷看邻座屏幕，已口头警告"
    dialog = _act(console, "incident", extended, kind="warning", note=note)
    _done(console, dialog)
    incident = _log(console, "incident").first
    expect(incident).to_contain_text(note)
    expect(incident).to_contain_text(extended_page.locator("#bar-name").inner_text())
    expect(_tile(console, extended).locator(".pc-incidents")).to_be_visible()
    expect(_tile(console, extended).locator(".pc-incidents")).to_contain_text("1")

    # The paused terminal's clock has not moved through all of this.
    assert paused_page.locator("#clock").inner_text() == clock_at_pause
    _select(console, paused)
    console.click("#panel-actions button[data-action='resume']")
    expect(_tile(console, paused)).to_have_attribute("data-status", "answering")
    expect(paused_page.locator("#paused-overlay")).to_be_hidden()
    expect(paused_page.locator("#bar-clock")).not_to_have_class(re.compile(r"\bpaused\b"))

    console.screenshot(path=str(tmp_path / "proctor-console.png"), full_page=True)

    # The network drops: the console says so; meanwhile a candidate answers; it comes back
    # and rebuilds itself from a fresh snapshot.
    console.context.set_offline(True)
    expect(console.locator("#conn-state")).to_have_attribute(
        "data-state", "reconnecting", timeout=WAIT
    )
    paused_page.click("#next-button")
    _answer(paused_page, 1)
    console.context.set_offline(False)
    expect(console.locator("#conn-state")).to_have_attribute(
        "data-state", "live", timeout=RECONNECT_WAIT
    )
    expect(_tile(console, paused).locator(".pc-answered")).to_have_text("2/10")

    # An expulsion needs a second staff member: the recorder cannot confirm it.
    dialog = _act(
        console, "incident", extended, warns=True, kind="expulsion", note="使用手机查阅答案"
    )
    _done(console, dialog)
    expect(_tile(console, extended)).to_have_class(re.compile(r"\bpending\b"))
    pending = console.locator("#pending-list .pc-pending-item")
    expect(pending).to_have_count(1)
    pending.locator("button[data-action='confirm_incident']").click()
    dialog = console.locator("#action-dialog")
    dialog.locator("#action-submit").click()
    expect(dialog.locator("#action-error")).to_have_attribute("data-code", "second_staff_required")
    dialog.locator("#action-cancel").click()
    expect(_tile(console, extended)).to_have_attribute("data-status", "answering")

    second = contexts()
    _open_console(second, demo_server, "proctor2", exam["id"])
    item = second.locator("#pending-list .pc-pending-item")
    expect(item).to_contain_text("使用手机查阅答案")
    item.locator("button[data-action='confirm_incident']").click()
    dialog = second.locator("#action-dialog")
    expect(dialog.locator("#action-warning")).to_be_visible()  # checked before it is sent
    dialog.locator("#action-submit").click()
    _done(second, dialog)
    for screen in (console, second):
        expect(_tile(screen, extended)).to_have_attribute("data-status", "expelled")
        expect(screen.locator("#pending-card")).to_be_hidden()
        expect(_log(screen, "expel")).to_have_count(1)
    expect(extended_page.locator("#screen-result")).to_be_visible()

    # A patrol inspector sees the same room, read-only.
    inspector = contexts()
    _open_console(inspector, demo_server, "inspector", exam["id"])
    assert inspector.locator("#console").get_attribute("data-can-act") == "0"
    expect(inspector.locator("#read-only")).to_be_visible()
    expect(inspector.locator("#room-actions")).to_have_count(0)
    expect(_tile(inspector, submitted)).to_have_attribute("data-status", "submitted")
    expect(_tile(inspector, extended)).to_have_attribute("data-status", "expelled")
    _select(inspector, paused)
    expect(inspector.locator("#panel-actions")).to_have_count(0)
    expect(inspector.locator("#event-log li[data-kind='force_submit']")).to_have_count(1)

    # The exam-room record (考场记录), opened from the console: the print view lists the
    # incidents and has the lines for the proctors' signatures; the PDF is a PDF.
    record = f"/proctor/sessions/{exam['id']}/record"
    assert console.locator("#record-link").get_attribute("href") == record
    assert console.locator("#record-pdf-link").get_attribute("href") == record + ".pdf"
    with console.expect_popup() as popup:
        console.click("#record-link")
    sheet = popup.value
    expect(sheet.locator("#room-record h1")).to_be_visible()
    expect(sheet.locator("#room-record")).to_contain_text(WINDOW_SESSION)
    expect(sheet.locator("#room-record")).to_contain_text(note)
    expect(sheet.locator("#record-signatures")).to_contain_text("王建华")
    pdf = console.context.request.get(base + record + ".pdf")
    assert pdf.status == 200, pdf.status
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body().startswith(b"%PDF")


# ------------------------------------------------------------------------------ proctor mode
def test_proctor_verifies_starts_and_closes_a_room(
    demo_server: dict[str, Any], contexts: Any, expect: Any
) -> None:
    base = demo_server["base_url"]
    exam = _session(demo_server, PROCTOR_SESSION)
    early, late, absent = exam["candidates"][0], exam["candidates"][1], exam["candidates"][2]

    console = contexts()
    _open_console(console, demo_server, "proctor2", exam["id"])
    expect(console.locator("#room-state")).to_have_class(re.compile(r"\bwarn\b"))

    # Two candidates sign in and wait for the proctor; one never comes.
    pages = {}
    for candidate in (early, late):
        terminal = contexts()
        _sign_in(terminal, base, candidate)
        expect(terminal.locator("#waiting-box")).to_be_visible()
        expect(_tile(console, candidate["admission_no"])).to_have_attribute(
            "data-status", "logged_in"
        )
        pages[candidate["admission_no"]] = terminal

    # The proctor checks the first one's ID card, and marks the absent one.
    _select(console, early["admission_no"])
    expect(console.locator("#p-name")).to_have_text(early["name"])
    expect(console.locator("#p-verify-hint")).to_be_visible()
    console.click("#panel-actions button[data-action='verify']")
    expect(_tile(console, early["admission_no"])).to_have_attribute("data-status", "verified")
    expect(console.locator("#panel-actions button[data-action='verify']")).to_be_hidden()
    dialog = _act(console, "mark_absent", absent["admission_no"])
    _done(console, dialog)
    expect(_tile(console, absent["admission_no"])).to_have_attribute("data-status", "absent")
    expect(_counter(console, "absent")).to_have_text("1")

    # Start the room: the verified candidate starts, the unverified one keeps waiting.
    dialog = _act(console, "start_room")
    _done(console, dialog)
    expect(console.locator("#room-state")).to_have_class(re.compile(r"\bok\b"))
    expect(_log(console, "start_room")).to_have_count(1)
    expect(pages[early["admission_no"]].locator("#screen-exam")).to_be_visible()
    expect(_tile(console, early["admission_no"])).to_have_attribute("data-status", "answering")
    expect(_tile(console, late["admission_no"])).to_have_attribute("data-status", "logged_in")
    expect(pages[late["admission_no"]].locator("#waiting-box")).to_be_visible()
    _select(console, early["admission_no"])
    expect(console.locator("#panel-actions button[data-action='verify']")).to_be_hidden()
    expect(console.locator("#panel-actions button[data-action='pause']")).to_be_visible()

    # Verifying the late arrival lets them in at once.
    _select(console, late["admission_no"])
    console.click("#panel-actions button[data-action='verify']")
    expect(pages[late["admission_no"]].locator("#screen-exam")).to_be_visible()
    expect(_tile(console, late["admission_no"])).to_have_attribute("data-status", "answering")
    expect(_log(console, "late_start")).to_have_count(1)

    # An announcement reaches every terminal of the room.
    message = "请保持安静，考试期间不得交谈。"
    dialog = _act(console, "announce", text=message)
    _done(console, dialog)
    expect(_log(console, "announce").first).to_contain_text(message)
    for terminal in pages.values():
        expect(terminal.locator("#announce-text")).to_have_text(message)

    # Closing the session hands in running papers and marks who never came as absent.
    dialog = _act(console, "close_session", warns=True)
    _done(console, dialog)
    expect(console.locator("#toast")).to_contain_text("2")
    for candidate in (early, late):
        expect(_tile(console, candidate["admission_no"])).to_have_attribute(
            "data-status", "submitted"
        )
        expect(pages[candidate["admission_no"]].locator("#screen-result")).to_be_visible()
    expect(_counter(console, "absent")).to_have_text(str(len(exam["candidates"]) - 2))
    expect(console.locator("#room-actions button[data-action='pause_all']")).to_be_disabled()

    # Logged out in another tab: the server closes the console's socket at once, the console
    # cannot reconnect, and says so in words.
    other = console.context.new_page()
    other.goto(base + "/proctor/")
    other.locator("form[action$='/logout'] button").click()
    expect(other.locator("input[name=password]")).to_be_visible()
    other.close()
    expect(console.locator("#conn-state")).to_have_attribute(
        "data-state", "refused", timeout=RECONNECT_WAIT
    )
    refused = console.locator("#conn-refused-text")
    expect(refused).not_to_be_empty()
    assert "{" not in refused.inner_text()


def test_the_log_keeps_newest_first_when_an_event_arrives_late(
    demo_server: dict[str, Any], contexts: Any
) -> None:
    """Terminals' events come in coalesced rounds, staff actions at once: an older event may
    arrive after a newer one and must still land below it."""
    page = contexts()
    page.goto(demo_server["base_url"] + "/exam")
    order = page.evaluate(
        """async () => {
          const { EventLog } = await import("/static/js/proctor/eventlog.js");
          const list = document.createElement("ol");
          const empty = document.createElement("p");
          const view = { t: (key) => key, timeOfDay: () => "08:00" };
          const room = { byAttemptId: () => null };
          const log = new EventLog(list, empty, view, room);
          log.reset([{ id: 2, kind: "login", at: null }]);
          for (const id of [5, 7, 6, 1, 7]) log.add({ id, kind: "connect", at: null });
          return [...list.children].map((li) => Number(li.dataset.eventId));
        }"""
    )
    assert order == [7, 6, 5, 2, 1]
