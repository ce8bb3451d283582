"""The candidate terminal in real Chromium against `examserver demo`: sign in, check the details,
answer with the mouse and the keyboard, lose the network and keep answering, reload, move to a
new tab, hand in, and get a verifiable training-record card."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import EXAMSERVER, _free_port

pytestmark = pytest.mark.e2e

LETTERS = "ABCDEFGH"
SESSION = "DEMO-WHP-RT"  # window mode, 10 questions of 10 points, pass 80, issues a card
CANDIDATE = 2  # DEMO-WHP-RT-03 (the module has its own server; -03 also keeps clear of others)
WAIT = 15_000  # ms: the bound of every wait
RECONNECT_WAIT = 30_000  # ms: Socket.IO's reconnection backs off up to 5 s between tries


@pytest.fixture(scope="module")
def exam_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A demo world of this module's own, seeded and served like conftest's `demo_server`.

    The exam these tests take changes the window-mode room (a candidate present, a paper handed
    in, a card issued); other browser tests (the proctor console) count that room's candidates.
    """
    db_path = tmp_path_factory.mktemp("terminal-demo") / "demo.db"
    env = {**os.environ, "EXAMSERVER_SECRET_KEY": "e2e-terminal-secret"}
    seeded = subprocess.run(
        [EXAMSERVER, "demo", "--db", str(db_path), "--seed-only", "--json"],
        capture_output=True, text=True, env=env, timeout=180, check=True,
    )  # fmt: skip
    world = json.loads(seeded.stdout)
    port = _free_port()
    with open(db_path.with_suffix(".log"), "w") as log:
        proc = subprocess.Popen(
            [EXAMSERVER, "demo", "--db", str(db_path), "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            _wait_for_port(proc, port)
            world["base_url"] = f"http://127.0.0.1:{port}"
            yield world
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for_port(proc: subprocess.Popen[Any], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)  # polling a starting server's port: not a timing assertion
    pytest.fail("examserver demo did not start")


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _candidate(world: dict[str, Any]) -> dict[str, Any]:
    exam = next(s for s in world["sessions"] if s["code"] == SESSION)
    return exam["candidates"][CANDIDATE]


@pytest.fixture
def answer_key(browser: Any, exam_demo: dict[str, Any]) -> dict[int, list[str]]:
    """The demo bank's keys by question (version) id, as staff export them (never the terminal)."""
    login = next(entry for entry in exam_demo["logins"] if entry["role"] == "staff")
    context = browser.new_context()
    try:
        api = context.request
        base = exam_demo["base_url"]
        response = api.post(
            base + "/api/login",
            data={"username": login["username"], "password": login["password"]},
        )
        assert response.ok, response.text()
        export = api.get(base + "/admin/export?bank=WHP-ZYFZR&format=json")
        assert export.ok, export.status
        document = json.loads(export.body())
    finally:
        context.close()
    return {q["id"]: list(q["answer"]) for q in document["questions"]}


class Frames:
    """Every Socket.IO message the terminal's pages receive, decoded."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def watch(self, page: Any) -> None:
        page.on("websocket", lambda ws: ws.on("framereceived", self._received))

    def _received(self, payload: Any) -> None:
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8", "replace")
        match = re.match(r"^4[23]/exam,\d*(.*)$", payload, re.S)
        if match:
            self.messages.append(json.loads(match.group(1)))


def _keys_of(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys_of(item)


def _current(page: Any) -> tuple[int, list[str]]:
    """The question on screen: its id and its option keys in display order."""
    article = page.locator("#question-box article.exam-question")
    qid = int(article.get_attribute("data-question-id"))
    keys = page.locator("#question-box input.exam-input").evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )
    return qid, keys


def _answer_by_mouse(page: Any, key: dict[int, list[str]]) -> int:
    qid, _keys = _current(page)
    for option in key[qid]:
        page.click(f"#question-box label.exam-option:has(input[value='{option}'])")
    return qid


def _answer_by_keyboard(page: Any, key: dict[int, list[str]], digits: bool = False) -> int:
    qid, keys = _current(page)
    for option in key[qid]:
        position = keys.index(option)
        page.keyboard.press(str(position + 1) if digits else LETTERS[position])
    return qid


def _expect_chosen(page: Any, qid: int, options: list[str]) -> None:
    expect = _expect()
    expect(page.locator("#question-box article.exam-question")).to_have_attribute(
        "data-question-id", str(qid)
    )
    for option in options:
        expect(page.locator(f"#question-box input[value='{option}']")).to_be_checked()


def _cell(page: Any, number: int) -> Any:
    return page.locator(f"#nav-grid button.t-cell[data-index='{number - 1}']")


def _go(page: Any, number: int) -> None:
    _cell(page, number).click()
    _expect()(page.locator("#question-of")).to_contain_text(f"第 {number} 题")


def _sign_in(page: Any, base: str, candidate: dict[str, Any]) -> None:
    page.goto(base + "/exam")
    _expect()(page.locator("#screen-login")).to_be_visible()
    page.fill("#admission-no", candidate["admission_no"])
    page.fill("#id-number", candidate["id_number"])
    page.click("#login-button")
    _expect()(page.locator("#screen-details")).to_be_visible()


def _saved(page: Any) -> None:
    expect = _expect()
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0", timeout=WAIT)
    expect(page.locator("#save-status")).to_have_class(re.compile(r"\bok\b"))


# The terminal's wall clock is three hours and a bit wrong: the countdown must not care.
WRONG_CLOCK = """
(() => {
  const Real = Date;
  const skew = 3 * 3600 * 1000 + 17 * 60 * 1000;
  class Skewed extends Real {
    constructor(...args) { if (args.length) { super(...args); } else { super(Real.now() + skew); } }
    static now() { return Real.now() + skew; }
  }
  window.Date = Skewed;
})();
"""


@pytest.fixture
def patient_expect() -> Iterator[Any]:
    """Playwright's expect with this module's bound (15 s) instead of 5 s, restored after."""
    expect = _expect()
    expect.set_options(timeout=WAIT)
    yield expect
    expect.set_options(timeout=5_000)


def test_a_candidate_takes_the_exam_through_a_network_loss_and_a_new_tab(
    page: Any,
    exam_demo: dict[str, Any],
    answer_key: dict[int, list[str]],
    patient_expect: Any,
) -> None:
    expect = patient_expect
    base = exam_demo["base_url"]
    candidate = _candidate(exam_demo)
    context = page.context
    context.add_init_script(WRONG_CLOCK)
    frames = Frames()
    frames.watch(page)
    logins: list[str] = []
    context.on("request", lambda r: logins.append(r.url) if "/api/exam/login" in r.url else None)

    # A wrong check digit is caught in the browser, before anything is sent.
    page.goto(base + "/exam")
    expect(page.locator("#screen-login")).to_be_visible()
    expect(page.locator("#screen-login h1")).to_have_text("考生登录")
    page.fill("#admission-no", candidate["admission_no"])
    wrong = candidate["id_number"][:17] + ("0" if candidate["id_number"][17] != "0" else "1")
    page.fill("#id-number", wrong)
    page.click("#login-button")
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("身份证号")
    assert logins == []

    # The right one signs in; the candidate checks the details and starts.
    page.fill("#id-number", candidate["id_number"])
    page.click("#login-button")
    expect(page.locator("#screen-details")).to_be_visible()
    assert len(logins) == 1
    expect(page.locator("#d-name")).to_have_text(candidate["name"])
    expect(page.locator("#d-admission")).to_have_text(candidate["admission_no"])
    masked = page.locator("#d-id").inner_text()
    assert "*" in masked and candidate["id_number"] not in masked
    assert masked.endswith(candidate["id_number"][-4:])
    expect(page.locator("#d-session")).to_contain_text("复训考核")
    expect(page.locator("#d-job")).to_contain_text("危险化学品")
    start = page.locator("#start-button")
    expect(start).to_be_enabled()
    start.click()
    expect(page.locator("#screen-exam")).to_be_visible()
    expect(page.locator("#question-of")).to_contain_text("第 1 题 / 共 10 题")
    expect(page.locator("#section-title")).to_have_text("判断题")
    # The server's 30 minutes, whatever the terminal's own clock says.
    assert (
        page.evaluate("Math.abs(Date.now() - performance.timeOrigin - performance.now())")
        > 3 * 3600_000
    )
    expect(page.locator("#clock")).to_have_text(re.compile(r"^(30:00|29:[0-5]\d)$"))
    terminal_id = page.evaluate("localStorage.getItem('exam.terminal')")
    attempt_id = page.evaluate("JSON.parse(sessionStorage.getItem('exam.login')).attempt_id")

    # Mouse on question 1, keyboard on 2 (arrow, letter) and 3 (arrow, digit, F flags).
    q1 = _answer_by_mouse(page, answer_key)
    page.keyboard.press("ArrowRight")
    expect(page.locator("#question-of")).to_contain_text("第 2 题")
    q2 = _answer_by_keyboard(page, answer_key)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#question-of")).to_contain_text("第 3 题")
    q3 = _answer_by_keyboard(page, answer_key, digits=True)
    page.keyboard.press("f")
    expect(page.locator("#flag-mark")).to_be_visible()
    expect(_cell(page, 3)).to_have_class(re.compile(r"\bflagged\b"))
    _saved(page)
    for number in (1, 2, 3):
        expect(_cell(page, number)).to_have_class(re.compile(r"\banswered\b"))
    expect(_cell(page, 4)).not_to_have_class(re.compile(r"\banswered\b"))

    # The network drops: the terminal says so, and the candidate keeps answering.
    context.set_offline(True)
    expect(page.locator("#banner-offline")).to_be_visible(timeout=WAIT)
    expect(page.locator("#banner-offline")).to_contain_text("网络连接已断开")
    _go(page, 4)
    q4 = _answer_by_mouse(page, answer_key)
    page.keyboard.press("ArrowRight")
    q5 = _answer_by_keyboard(page, answer_key)
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "2")
    expect(page.locator("#save-status")).to_have_class(re.compile(r"\boffline\b"))
    for number in (4, 5):
        expect(_cell(page, number)).to_have_class(re.compile(r"\bpending\b"))
    stored = page.evaluate(f"JSON.parse(localStorage.getItem('exam.outbox.{attempt_id}'))")
    assert [(e["event"], e["question_id"]) for e in stored["entries"]] == [
        ("answer", q4),
        ("answer", q5),
    ]

    # The network returns: everything is sent and acknowledged.
    context.set_offline(False)
    expect(page.locator("#banner-offline")).to_be_hidden(timeout=RECONNECT_WAIT)
    _saved(page)
    expect(_cell(page, 5)).not_to_have_class(re.compile(r"\bpending\b"))

    # A reload (a crashed browser) reconnects without a new sign-in and shows the server's state.
    page.reload()
    expect(page.locator("#screen-exam")).to_be_visible()
    assert len(logins) == 1
    stored = page.evaluate(f"JSON.parse(localStorage.getItem('exam.outbox.{attempt_id}'))")
    assert stored["entries"] == []  # so what shows is what the server sent
    expect(page.locator("#progress")).to_have_text("5 / 10")
    for number in (1, 2, 3, 4, 5):
        expect(_cell(page, number)).to_have_class(re.compile(r"\banswered\b"))
    expect(_cell(page, 3)).to_have_class(re.compile(r"\bflagged\b"))
    _go(page, 4)
    _expect_chosen(page, q4, answer_key[q4])

    # More answers, then the candidate stays on question 7 and the tab is closed.
    _go(page, 6)
    q6 = _answer_by_mouse(page, answer_key)
    page.keyboard.press("ArrowRight")
    q7 = _answer_by_keyboard(page, answer_key, digits=True)
    _go(page, 8)
    q8 = _answer_by_keyboard(page, answer_key)
    page.keyboard.press("ArrowRight")  # question 9: multiple response
    expect(page.locator("#section-title")).to_have_text("多选题")
    q9 = _answer_by_keyboard(page, answer_key)
    assert len(answer_key[q9]) >= 2
    _go(page, 7)
    _saved(page)
    expect(page.locator("body")).to_have_attribute("data-position-saved", "6")
    page.close()

    # A new tab of the same browser is the same terminal: sign in again, continue as left.
    again = context.new_page()
    frames.watch(again)
    _sign_in(again, base, candidate)
    assert again.evaluate("localStorage.getItem('exam.terminal')") == terminal_id
    expect(again.locator("#start-button")).to_have_text("继续考试")
    again.click("#start-button")
    expect(again.locator("#screen-exam")).to_be_visible()
    expect(again.locator("#question-of")).to_contain_text("第 7 题")
    _expect_chosen(again, q7, answer_key[q7])
    expect(again.locator("#progress")).to_have_text("9 / 10")
    expect(_cell(again, 3)).to_have_class(re.compile(r"\bflagged\b"))
    expect(_cell(again, 10)).not_to_have_class(re.compile(r"\banswered\b"))
    for number, qid in ((1, q1), (2, q2), (3, q3), (5, q5), (6, q6), (8, q8), (9, q9)):
        _go(again, number)
        _expect_chosen(again, qid, answer_key[qid])

    # Another terminal (another browser) is refused while this one is connected, in plain words.
    other = context.browser.new_context(locale="zh-CN")
    try:
        intruder = other.new_page()
        intruder.goto(base + "/exam")
        intruder.fill("#admission-no", candidate["admission_no"])
        intruder.fill("#id-number", candidate["id_number"])
        intruder.click("#login-button")
        expect(intruder.locator("#login-error")).to_contain_text("另一台")
        expect(intruder.locator("#screen-login")).to_be_visible()
    finally:
        other.close()
    expect(again.locator("#screen-exam")).to_be_visible()

    # Hand in: the confirmation lists the unanswered and the flagged questions.
    again.click("#submit-button")
    dialog = again.locator("#submit-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("li.unanswered")).to_contain_text("第 10 题")
    expect(dialog.locator("li.flagged")).to_contain_text("第 3 题")
    again.click("#submit-confirm")
    expect(again.locator("#screen-result")).to_be_visible()
    expect(again.locator("#result-score")).to_contain_text("90")
    expect(again.locator("#result-verdict")).to_have_text("合格")
    expect(again.locator("#result-card")).to_be_visible()
    card_no = again.locator("#card-no").inner_text().strip()
    assert card_no
    verify_href = again.locator("#card-verify").get_attribute("href")
    match = re.fullmatch(rf"/verify/{re.escape(card_no)}/([A-Za-z0-9_-]+)", verify_href or "")
    assert match, verify_href
    code = match.group(1)
    assert again.locator("#card-pdf").get_attribute("href") == f"/cards/{card_no}/{code}.pdf"
    assert again.locator("#card-print").get_attribute("href") == f"/cards/{card_no}/{code}"
    _check_card_pages(again, base, card_no, code, verify_href)

    # No answer key ever reached the terminal: not in any message, not on the page.
    assert frames.messages, "no Socket.IO message was seen"
    states = [m[1] for m in frames.messages if isinstance(m, list) and m[:1] == ["state"]]
    assert any("paper" in s for s in states)
    keys = {k for message in frames.messages for k in _keys_of(message)}
    assert not keys & {"answer", "answers_key", "correct", "explanation", "solution"}
    assert "explanation" not in again.content()


def _check_card_pages(page: Any, base: str, card_no: str, code: str, verify_href: str) -> None:
    """The card's PDF opens as a PDF and the verification page confirms the card."""
    pdf = page.context.request.get(base + f"/cards/{card_no}/{code}.pdf")
    assert pdf.status == 200, pdf.status
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body().startswith(b"%PDF")
    page.goto(base + verify_href)
    _expect()(page.locator("body")).to_contain_text(card_no)


OUTBOX_SCRIPT = """
async () => {
  const { Outbox } = await import("/static/js/exam/outbox.js");
  localStorage.removeItem("exam.outbox.999999");
  const log = [];
  const first = new Outbox(999999, { send: () => { throw new Error("offline: never sent"); } });
  first.syncSeq(5);
  first.push("answer", 11, { choice: ["o1"] });
  first.push("answer", 11, { choice: ["o2", "o3"] });  // supersedes the unsent one
  first.push("flag", 12, { flagged: true });
  const stored = JSON.parse(localStorage.getItem("exam.outbox.999999"));
  // A reload: a new outbox finds the changes and the sequence in localStorage.
  const acks = [
    { ok: false, error: { code: "server_busy", message: "busy" } },
    { ok: true, seq: 7 },
    { ok: false, error: { code: "stale_seq", message: "newer" } },
    { ok: true, seq: 9 },
  ];
  const dropped = [];
  const second = new Outbox(999999, {
    send: (entry) => { log.push([entry.event, entry.question_id, entry.seq]); return Promise.resolve(acks.shift()); },
    onDrop: (entry, error) => dropped.push(error.code),
  });
  second.syncSeq(3);  // an older server count never lowers the sequence
  const afterReload = second.pending().map((e) => e.seq);
  second.setOnline(true);
  second.push("answer", 13, { choice: ["T"] });
  const drained = await second.whenEmpty(10000);
  return {
    stored, afterReload, drained, log, dropped,
    left: JSON.parse(localStorage.getItem("exam.outbox.999999")),
  };
}
"""


def test_the_outbox_keeps_order_and_sequence_across_a_reload(
    page: Any, exam_demo: dict[str, Any]
) -> None:
    page.goto(exam_demo["base_url"] + "/exam")
    result = page.evaluate(OUTBOX_SCRIPT)
    assert result["stored"]["seq"] == 8
    assert [(e["event"], e["question_id"], e["seq"]) for e in result["stored"]["entries"]] == [
        ("answer", 11, 7),
        ("flag", 12, 8),
    ]
    assert result["stored"]["entries"][0]["choice"] == ["o2", "o3"]
    assert result["afterReload"] == [7, 8]
    assert result["drained"] is True
    # server_busy: the same change again (after a backoff); stale_seq: dropped quietly.
    assert result["log"] == [
        ["answer", 11, 7],
        ["answer", 11, 7],
        ["flag", 12, 8],
        ["answer", 13, 9],
    ]
    assert result["dropped"] == []
    assert result["left"] == {"seq": 9, "entries": []}


def test_the_id_number_check_matches_the_server(page: Any, exam_demo: dict[str, Any]) -> None:
    import datetime as dt

    from examserver.identity import is_valid_id_number, make_id_number

    good = [make_id_number("320402", dt.date(1972, 4, 16), n) for n in range(0, 1000, 37)]
    samples = good + [g[:17] + ("0" if g[17] != "0" else "1") for g in good]
    samples += [
        "32040219720230001" + "X",
        "3204021972041605",
        "32040219720416053a",
        good[0].lower(),
    ]
    samples += [g[:-1] + "x" for g in good if g.endswith("X")]
    page.goto(exam_demo["base_url"] + "/exam")
    problems = page.evaluate(
        """async (ids) => {
            const { idNumberProblem } = await import("/static/js/exam/idnumber.js");
            return ids.map((id) => idNumberProblem(id));
        }""",
        samples,
    )
    for sample, problem in zip(samples, problems, strict=True):
        assert (problem == "") == is_valid_id_number(sample.strip().upper()), (sample, problem)
    assert any(g.endswith("X") for g in good)


def test_a_revoked_sign_in_leads_back_to_the_sign_in_screen(
    page: Any, exam_demo: dict[str, Any]
) -> None:
    expect = _expect()
    page.goto(exam_demo["base_url"] + "/exam")
    expect(page.locator("#screen-login")).to_be_visible()
    page.evaluate(
        """sessionStorage.setItem("exam.login", JSON.stringify({
            token: "forged.token.value", attempt_id: 1, confirmed: true,
            candidate: {name: "x"}, session: {name: "y", start_mode: "window"}}))"""
    )
    page.reload()
    expect(page.locator("#screen-login")).to_be_visible(timeout=WAIT)
    expect(page.locator("#login-error")).to_contain_text("登录已失效", timeout=WAIT)
    assert page.evaluate("sessionStorage.getItem('exam.login')") is None
