"""Exam-delivery benchmark (issue 3): N Socket.IO candidates against examserver and an echo server.

    .venv/bin/python bench/delivery_bench.py [--candidates 1000] [--modes eventlet,gevent]
        [--rate 100] [--duration 30] [--full-duration 20] [--client-procs 2] [--json]

For each async mode, two targets on 127.0.0.1, one after the other, with the same workload:
``examserver serve`` on a fresh SQLite copy of a database seeded by ``examserver demo
--seed-only --json --candidates N`` (window-mode session DEMO-DRILL, papers drawn at seeding),
and ``bench/echo_server.py`` (bare python-socketio, acks at once, same paper bytes). The
candidates run in ``--client-procs`` separate processes (asyncio + python-socketio's
AsyncClient over one aiohttp session each, WebSocket transport). Phases:

1. herd: every candidate logs in (POST /api/exam/login) and connects, spread over
   ``--herd-spread`` seconds; measured: login, connect → first ``state``.
2. common start: once all are connected, all emit ``start`` at the same instant; measured:
   ``start`` → the ``state`` carrying the paper (paper delivery).
3. exam pace: ``--rate`` answers/s across the room for ``--duration`` s, each candidate in turn
   (1,000 candidates at 100/s: one answer each per 10 s); measured: answer → ack.
4. full speed: each candidate sends its next answer as soon as the previous ack arrives, for
   ``--full-duration`` s; measured: ack latency and acks per second.

Then examserver is killed (SIGKILL) and its SQLite file is checked: every acknowledged answer
must be stored with its sequence number and choice. Ratios are examserver / echo.

Proctors (issue 4; examserver only, ``--no-proctor`` for the runs of issue 3): a proctor
logged in as the demo's ``proctor`` watches the drill room from before the herd in its own
process; every roster row it receives is matched with the candidates' acked answers (delta
latency, ``time.monotonic()`` across processes). A second console times the snapshot (``watch``
→ ack) of a ``--room-seats`` bench room (BENCH-ROOMn, added to the template: the first drill
candidates registered a second time, brought to life before the herd) and of the drill room,
idle and during both answer phases.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, ROOT, raise_open_files, summary_ms, table, write_json  # noqa: E402

NS = "/exam"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = sys.executable
CALL_TIMEOUT = 30.0
PHASE_MARGIN = 60.0


# ============================================================================ client side
class Candidate:
    """One simulated terminal: login, connection, paper and the answers it has had acked."""

    def __init__(self, index: int, info: dict[str, str], base_url: str, http: Any) -> None:
        import socketio

        self.index = index
        self.admission_no = info["admission_no"]
        self.id_number = info["id_number"]
        self.terminal = f"bench-{self.admission_no}"[:64]
        self.base_url = base_url
        self.http = http
        self.sio = socketio.AsyncClient(reconnection=False, http_session=http)
        self.sio.on("state", self._on_state, namespace=NS)
        self.token = ""
        self.attempt_id = 0
        self.questions: list[tuple[int, str, list[str]]] = []
        self.sent = 0
        self.acked: dict[int, tuple[int, list[str]]] = {}  # question id -> (seq, choice)
        # Every acked answer as (phase, answered after it or 0, sent, acked), time.monotonic():
        # the proctor's rows are matched against it. A re-answer leaves `answered` as it was (0).
        self.phase = ""
        self.timeline: list[tuple[str, int, float, float]] = []
        self.alive = False
        self._first_state: asyncio.Future[float] | None = None
        self._paper: asyncio.Future[float] | None = None

    async def _on_state(self, data: Any) -> None:
        now = time.perf_counter()
        if self._first_state is not None and not self._first_state.done():
            self._first_state.set_result(now)
        paper = data.get("paper") if isinstance(data, dict) else None
        if paper and self._paper is not None and not self._paper.done():
            self.questions = [
                (q["id"], s["type"], [o["key"] for o in q["options"]])
                for s in paper["sections"]
                for q in s["questions"]
            ]
            self._paper.set_result(now)

    async def login(self) -> tuple[float, str | None]:
        start = time.perf_counter()
        body = {"admission_no": self.admission_no, "id_number": self.id_number,
                "terminal": self.terminal}  # fmt: skip
        try:
            async with self.http.post(f"{self.base_url}/api/exam/login", json=body) as response:
                data = await response.json(content_type=None)
        except Exception as exc:  # noqa: BLE001 - any failure is a figure, not a crash
            return time.perf_counter() - start, f"login_{type(exc).__name__}"
        if response.status != 200:
            code = (data.get("error") or {}).get("code", "?") if isinstance(data, dict) else "?"
            return time.perf_counter() - start, f"login_{response.status}_{code}"
        self.token = data["token"]
        self.attempt_id = int(data["attempt_id"])
        return time.perf_counter() - start, None

    async def connect(self) -> tuple[float, str | None]:
        self._first_state = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        try:
            await self.sio.connect(
                self.base_url,
                namespaces=[NS],
                transports=["websocket"],
                auth={"token": self.token, "terminal": self.terminal, "lang": "zh_CN"},
                wait_timeout=CALL_TIMEOUT,
            )
            got = await asyncio.wait_for(self._first_state, CALL_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure is a figure, not a crash
            return time.perf_counter() - start, f"connect_{type(exc).__name__}"
        self.alive = True
        return got - start, None

    async def start(self) -> tuple[float, float, str | None]:
        """Emit start; return (start → paper state, start → ack, error)."""
        self._paper = asyncio.get_running_loop().create_future()
        begin = time.perf_counter()
        try:
            ack = await self.sio.call("start", {}, namespace=NS, timeout=CALL_TIMEOUT)
            acked = time.perf_counter()
            if not isinstance(ack, dict) or not ack.get("ok"):
                return 0.0, 0.0, f"start_{_code(ack)}"
            got = await asyncio.wait_for(self._paper, CALL_TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            return 0.0, 0.0, f"start_{type(exc).__name__}"
        return got - begin, acked - begin, None

    def next_answer(self) -> dict[str, Any]:
        """The next answer: questions in paper order, cycling, with a changed valid choice."""
        question_id, qtype, keys = self.questions[self.sent % len(self.questions)]
        cycle = self.sent // len(self.questions)
        if qtype == "multi" and len(keys) >= 2:
            picked = {cycle % len(keys), (cycle + 1) % len(keys)}
            choice = [k for i, k in enumerate(keys) if i in picked]
        else:
            choice = [keys[cycle % len(keys)]]
        self.sent += 1
        return {"question_id": question_id, "choice": choice, "seq": self.sent}

    async def answer(self) -> tuple[float, str | None]:
        data = self.next_answer()
        begin = time.perf_counter()
        sent = time.monotonic()
        try:
            ack = await self.sio.call("answer", data, namespace=NS, timeout=CALL_TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            if not self.sio.connected or NS not in self.sio.namespaces:
                self.alive = False  # dropped by the server: this candidate stops here
            return time.perf_counter() - begin, f"answer_{type(exc).__name__}"
        took = time.perf_counter() - begin
        if isinstance(ack, dict) and ack.get("ok") and ack.get("seq") == data["seq"]:
            first = data["question_id"] not in self.acked
            self.acked[data["question_id"]] = (data["seq"], data["choice"])
            answered = len(self.acked) if first else 0
            self.timeline.append((self.phase, answered, sent, time.monotonic()))
            return took, None
        return took, f"answer_{_code(ack)}"


def _code(ack: Any) -> str:
    if isinstance(ack, dict) and isinstance(ack.get("error"), dict):
        return str(ack["error"].get("code", "?"))
    return "bad_ack"


async def _until(wall: float) -> None:
    delay = wall - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


class Worker:
    """The candidates of one client process and the phases they run on command."""

    def __init__(self, candidates: list[Candidate], total: int) -> None:
        self.candidates = candidates
        self.total = total

    async def herd(self, at: float, spread: float) -> dict[str, Any]:
        async def one(c: Candidate) -> tuple[float, float, str | None]:
            await _until(at + spread * c.index / self.total)
            login_s, error = await c.login()
            if error:
                return login_s, 0.0, error
            connect_s, error = await c.connect()
            return login_s, connect_s, error

        results = await asyncio.gather(*(one(c) for c in self.candidates))
        return {
            "login": [r[0] for r in results if r[2] is None],
            "connect_state": [r[1] for r in results if r[2] is None],
            "errors": Counter(r[2] for r in results if r[2]),
            "done_at": time.time(),
        }

    async def start(self, at: float) -> dict[str, Any]:
        live = [c for c in self.candidates if c.alive]
        await _until(at)
        results = await asyncio.gather(*(c.start() for c in live))
        return {
            "paper": [r[0] for r in results if r[2] is None],
            "start_ack": [r[1] for r in results if r[2] is None],
            "errors": Counter(r[2] for r in results if r[2]),
            "done_at": time.time(),
        }

    async def paced(self, at: float, rate: float, duration: float) -> dict[str, Any]:
        """Candidate g answers at at + (g + j·N)/rate, j = 0, 1, …, until at + duration."""
        acks: list[float] = []
        lags: list[float] = []
        errors: Counter[str] = Counter()
        end = at + duration

        async def one(c: Candidate) -> None:
            c.phase = "paced"
            slot = at + c.index / rate
            while slot < end and c.alive:
                await _until(slot)
                lags.append(max(0.0, time.time() - slot))
                took, error = await c.answer()
                if error:
                    errors[error] += 1
                else:
                    acks.append(took)
                slot += self.total / rate

        await asyncio.gather(*(one(c) for c in self.candidates if c.alive and c.questions))
        return {"ack": acks, "lag": lags, "errors": errors, "done_at": time.time()}

    async def full(self, at: float, duration: float) -> dict[str, Any]:
        """Each candidate answers again as soon as its previous answer is acked."""
        acks: list[float] = []
        late = 0
        errors: Counter[str] = Counter()
        end = at + duration

        async def one(c: Candidate) -> None:
            nonlocal late
            c.phase = "full"
            await _until(at)
            while time.time() < end and c.alive:
                took, error = await c.answer()
                if error:
                    errors[error] += 1
                elif time.time() <= end:
                    acks.append(took)
                else:
                    late += 1  # acked after the window: durable, not counted in the rate

        await asyncio.gather(*(one(c) for c in self.candidates if c.alive and c.questions))
        return {"ack": acks, "late": late, "errors": errors, "done_at": time.time()}

    def acked(self) -> dict[int, dict[int, tuple[int, list[str]]]]:
        return {c.attempt_id: dict(c.acked) for c in self.candidates if c.acked}

    def timelines(self) -> dict[int, list[tuple[str, int, float, float]]]:
        return {c.attempt_id: list(c.timeline) for c in self.candidates if c.timeline}

    async def close(self) -> None:
        async def one(c: Candidate) -> None:
            try:
                await asyncio.wait_for(c.sio.disconnect(), 5)
            except Exception:  # noqa: BLE001,S110 - the server may already be gone
                pass

        await asyncio.gather(*(one(c) for c in self.candidates))


def client_process(conn: Any, base_url: str, infos: list[tuple[int, dict[str, str]]],
                   total: int) -> None:  # fmt: skip
    """Entry point of one client process: run the commands the parent sends over ``conn``."""
    raise_open_files(len(infos) * 4 + 256)
    # Dropped connections are counted as errors; the client library's own log adds nothing.
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
    asyncio.run(_client_main(conn, base_url, infos, total))


async def _client_main(conn: Any, base_url: str, infos: list[tuple[int, dict[str, str]]],
                       total: int) -> None:  # fmt: skip
    import aiohttp

    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        worker = Worker([Candidate(i, info, base_url, http) for i, info in infos], total)
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            name = command["cmd"]
            cpu = time.process_time()
            try:
                result = await _run_command(worker, command)
            except Exception as exc:  # noqa: BLE001 - report, let the parent decide
                result = {"error": f"{name}: {type(exc).__name__}: {exc}"}
            if name == "close":
                conn.send({"closed": True})
                return
            result["cpu_s"] = time.process_time() - cpu
            conn.send(result)


async def _run_command(worker: Worker, command: dict[str, Any]) -> dict[str, Any]:
    name = command["cmd"]
    if name == "herd":
        return await worker.herd(command["at"], command["spread"])
    if name == "start":
        return await worker.start(command["at"])
    if name == "paced":
        return await worker.paced(command["at"], command["rate"], command["duration"])
    if name == "full":
        return await worker.full(command["at"], command["duration"])
    if name == "acked":
        return {"acked": worker.acked(), "timelines": worker.timelines()}
    if name == "close":
        await worker.close()
        return {}
    return {"error": f"unknown command {name}"}


# ============================================================================ proctor side
PROCTOR_NS = "/proctor"
PROCTOR_LOGIN = {"username": "proctor", "password": "proctor-demo-2026"}  # seeded by the demo
ROOM_ANSWERS = 5  # answers each bench-room candidate gives before the herd


class Proctor:
    """A proctor's consoles: one watches the drill room all along (the deltas), another opens
    and closes rooms to time their snapshots; plus the candidates who bring the bench room to
    life (logged in, connected, started, a few answers each) so that its snapshot is a real one.
    """

    def __init__(self, base_url: str, staff_http: Any, room_http: Any,
                 room_infos: list[dict[str, str]]) -> None:  # fmt: skip
        import socketio

        self.base_url = base_url
        self.http = staff_http
        self.console = socketio.AsyncClient(reconnection=False, http_session=staff_http)
        self.console.on("candidate", self._on_candidate, namespace=PROCTOR_NS)
        self.console.on("event", self._on_event, namespace=PROCTOR_NS)
        self.opener = socketio.AsyncClient(reconnection=False, http_session=staff_http)
        self.room = [Candidate(i, info, base_url, room_http) for i, info in enumerate(room_infos)]
        self.pushes: list[tuple[float, int, int]] = []  # (time.monotonic(), attempt_id, answered)
        self.events = 0
        self.bad_pushes = 0
        self.last_push = time.monotonic()

    async def _on_candidate(self, row: Any) -> None:
        now = time.monotonic()
        self.last_push = now
        if isinstance(row, dict) and isinstance(row.get("attempt_id"), int):
            self.pushes.append((now, row["attempt_id"], int(row.get("answered") or 0)))
        else:
            self.bad_pushes += 1

    async def _on_event(self, _row: Any) -> None:
        self.events += 1

    async def setup(self, drill_id: int, room_id: int, answers: int, room_snapshots: int,
                    drill_snapshots: int) -> dict[str, Any]:  # fmt: skip
        """Log in, connect both consoles, bring the bench room to life, watch the drill room."""
        async with self.http.post(f"{self.base_url}/api/login", json=PROCTOR_LOGIN) as response:
            if response.status != 200:
                return {"error": f"staff login: HTTP {response.status}"}
            morsel = response.cookies.get("session")
        if morsel is None:
            return {"error": "staff login: no session cookie"}
        headers = {"Cookie": f"session={morsel.value}"}
        for sio in (self.console, self.opener):
            await sio.connect(self.base_url, namespaces=[PROCTOR_NS], transports=["websocket"],
                              headers=dict(headers), wait_timeout=CALL_TIMEOUT)  # fmt: skip

        async def live(c: Candidate) -> str | None:
            c.phase = "setup"
            for step in (c.login, c.connect):
                _took, error = await step()
                if error:
                    return error
            *_took2, error = await c.start()
            if error:
                return error
            for _ in range(answers):
                _took, error = await c.answer()
                if error:
                    return error
            return None

        errors = Counter(e for e in await asyncio.gather(*(live(c) for c in self.room)) if e)
        room_live = sum(1 for c in self.room if c.alive and c.timeline)
        # The delta console watches the drill room from now on, as a proctor before the herd.
        drill_watch = await self.snapshot(self.console, drill_id, keep=True)
        idle = await self.snapshots(time.time(), 0.0, room_id, room_snapshots,
                                    drill_id, drill_snapshots)  # fmt: skip
        return {"room_errors": errors, "room_live": room_live, "drill_watch": drill_watch,
                "idle": idle}  # fmt: skip

    async def snapshot(self, sio: Any, session_id: int, keep: bool = False) -> dict[str, Any]:
        """Time one `watch` → ack (the room's snapshot); unwatch again unless ``keep``."""
        begin = time.monotonic()
        try:
            ack = await sio.call("watch", {"session_id": session_id}, namespace=PROCTOR_NS,
                                 timeout=CALL_TIMEOUT)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - a figure, not a crash
            return {"error": f"watch_{type(exc).__name__}"}
        took = time.monotonic() - begin
        if not isinstance(ack, dict) or not ack.get("ok"):
            return {"error": f"watch_{_code(ack)}"}
        if not keep:
            try:
                await sio.call("unwatch", {"session_id": session_id}, namespace=PROCTOR_NS,
                               timeout=CALL_TIMEOUT)  # fmt: skip
            except Exception as exc:  # noqa: BLE001
                return {"error": f"unwatch_{type(exc).__name__}"}
        return {"s": took, "rows": len(ack.get("roster") or []),
                "events": len(ack.get("events") or [])}  # fmt: skip

    async def snapshots(self, at: float, duration: float, room_id: int, room_count: int,
                        drill_id: int, drill_count: int) -> dict[str, Any]:  # fmt: skip
        """Open the bench room ``room_count`` times and the drill room ``drill_count`` times,
        spread evenly over ``duration`` seconds from ``at`` (one after the other if 0).

        Snapshots run one after the other: those that slow ones push past the phase's end are
        not taken (they would time an idle server) but counted as ``late``.
        """
        plan = sorted([((i + 0.5) / room_count, "room", room_id) for i in range(room_count)]
                      + [((j + 0.5) / drill_count, "drill", drill_id)
                         for j in range(drill_count)])  # fmt: skip
        out: dict[str, Any] = {"room": [], "drill": [], "room_at": [], "late": 0,
                               "errors": Counter()}  # fmt: skip
        out |= {f"{kind}_{what}": 0 for kind in ("room", "drill") for what in ("rows", "events")}
        for fraction, kind, session_id in plan:
            await _until(at + fraction * duration)
            if duration and time.time() >= at + duration:
                out["late"] += 1
                continue
            if kind == "room":
                out["room_at"].append(time.time() - at)
            got = await self.snapshot(self.opener, session_id)
            if "error" in got:
                out["errors"][got["error"]] += 1
                continue
            out[kind].append(got["s"])
            out[f"{kind}_rows"] = got["rows"]
            out[f"{kind}_events"] = got["events"]
        return out

    async def collect(self, quiet: float = 1.0, limit: float = 15.0) -> dict[str, Any]:
        """Wait until no row has arrived for ``quiet`` s (at most ``limit`` s); return them all."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.monotonic() - self.last_push < quiet:
            await asyncio.sleep(0.1)
        return {
            "pushes": list(self.pushes),
            "events": self.events,
            "bad_pushes": self.bad_pushes,
            "connected": self.console.connected,
            "room_acked": {c.attempt_id: dict(c.acked) for c in self.room if c.acked},
        }

    async def close(self) -> None:
        async def one(sio: Any) -> None:
            try:
                await asyncio.wait_for(sio.disconnect(), 5)
            except Exception:  # noqa: BLE001,S110 - the server may already be gone
                pass

        await asyncio.gather(*(one(s) for s in [self.console, self.opener,
                                                *(c.sio for c in self.room)]))  # fmt: skip


def proctor_process(conn: Any, base_url: str, room_infos: list[dict[str, str]]) -> None:
    """Entry point of the proctor's process: run the commands the parent sends over ``conn``."""
    raise_open_files(len(room_infos) * 4 + 256)
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
    asyncio.run(_proctor_main(conn, base_url, room_infos))


async def _proctor_main(conn: Any, base_url: str, room_infos: list[dict[str, str]]) -> None:
    import aiohttp

    loop = asyncio.get_running_loop()
    # The staff cookie must not reach the candidates' requests: two HTTP sessions.
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                              cookie_jar=aiohttp.CookieJar(unsafe=True)) as staff_http,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                              cookie_jar=aiohttp.DummyCookieJar()) as room_http,
    ):  # fmt: skip
        proctor = Proctor(base_url, staff_http, room_http, room_infos)
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            name = command["cmd"]
            try:
                if name == "setup":
                    result = await proctor.setup(command["drill"], command["room"],
                                                 command["answers"], command["room_snapshots"],
                                                 command["drill_snapshots"])  # fmt: skip
                elif name == "snapshots":
                    result = await proctor.snapshots(command["at"], command["duration"],
                                                     command["room"], command["room_snapshots"],
                                                     command["drill"],
                                                     command["drill_snapshots"])  # fmt: skip
                elif name == "collect":
                    result = await proctor.collect()
                elif name == "close":
                    await proctor.close()
                    conn.send({"closed": True})
                    return
                else:
                    result = {"error": f"unknown command {name}"}
            except Exception as exc:  # noqa: BLE001 - report, let the parent decide
                result = {"error": f"{name}: {type(exc).__name__}: {exc}"}
            conn.send(result)


# ============================================================================ server side
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat; idle and iowait idle."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(values)
    return total - values[3] - values[4], total


def listen_drops() -> int:
    """SYNs dropped because a listen queue was full (machine-wide TcpExt ListenDrops)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table_ = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table_.get("ListenDrops", 0))
    return 0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - 127.0.0.1 only
                return
        except urllib.error.HTTPError:
            return  # it answers: ready
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer {url} within {timeout:.0f} s")


def seed(n: int, reuse: bool) -> tuple[Path, list[dict[str, str]]]:
    """Seed a template database with N drill candidates; return it and the candidates.

    With ``reuse``, a template left by an earlier run at the newest schema is used again.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"drill-{n}.db"
    listing = OUT / f"drill-{n}.json"
    if reuse and listing.exists() and _at_head(path):
        return path, json.loads(listing.read_text())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "examserver"), "demo", "--db", str(path), "--seed-only", "--json",
         "--candidates", str(n)],
        capture_output=True, check=False, timeout=1800, env=server_env(),
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"seeding failed: {done.stderr.decode()[-2000:]}")
    world = json.loads(done.stdout)
    drill = next(s for s in world["sessions"] if s["code"] == "DEMO-DRILL")
    print(f"seeded {len(drill['candidates'])} drill candidates in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
    write_json(listing, drill["candidates"])
    return path, drill["candidates"]


def _at_head(path: Path) -> bool:
    """Whether the SQLite file at ``path`` exists at the newest migration."""
    if not path.exists():
        return False
    from alembic.script import ScriptDirectory

    from examserver.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(f"sqlite:///{path}")).get_current_head()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row is not None and row[0] == head


def code_version() -> str:
    """The examserver code the servers run: its folder, commit, '+dirty' if changed."""
    try:
        found = subprocess.run(
            [PYTHON, "-c", "import examserver; print(examserver.__file__)"],
            capture_output=True, text=True, timeout=60, check=True, env=server_env(),
            cwd="/",
        )  # fmt: skip
        root = Path(found.stdout.strip()).resolve().parent.parent
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False).stdout
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "examserver"],
                               capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = head.strip() or "no git"
    return f"{commit}{'+dirty' if dirty.strip() else ''} ({root})"


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["EXAMSERVER_SECRET_KEY"] = "bench-not-a-secret"
    env.pop("EXAMSERVER_DATABASE_URL", None)
    return env


def echo_states(db_path: Path) -> Path:
    """Write the echo server's two `state` payloads, built from a real drill paper."""
    os.environ.setdefault("EXAMSERVER_SECRET_KEY", "bench-not-a-secret")
    from sqlalchemy import select

    from examserver import create_app
    from examserver.db import utcnow
    from examserver.delivery import service
    from examserver.delivery.models import Attempt
    from examserver.extensions import db
    from examserver.sessions.models import ExamSession

    app = create_app({"DATABASE_URL": f"sqlite:///{db_path}"})
    with app.app_context():
        attempt = db.session.scalars(
            select(Attempt).join(ExamSession, ExamSession.id == Attempt.session_id)
            .where(ExamSession.code == "DEMO-DRILL").order_by(Attempt.id)
        ).first()  # fmt: skip
        assert attempt is not None, "no drill attempt"
        waiting = service.state_payload(db.session, attempt, utcnow())
        view = service.build_paper_view(db.session, attempt.paper_id)
        db.session.rollback()
        db.engine.dispose()
    running = json.loads(json.dumps(waiting))
    running["attempt"]["status"] = "running"
    running["paper"] = view.paper.decode()
    path = OUT / "echo-state.json"
    write_json(path, {"connect": waiting, "start": running})
    return path


def prepare_template(template: Path, seats: int) -> dict[str, Any]:
    """Keep the drill's window open for the run and add the bench room of ``seats`` seats.

    The bench room (code BENCH-ROOMn, the drill's blueprint and window) registers the first
    ``seats`` drill candidates a second time, with papers drawn and the demo proctors assigned,
    as ``examserver demo`` does for its rooms. A template reused on a later day has a drill
    window that closes before the run ends: its sessions' windows are moved to cover it.
    Returns the two session ids and the bench room's candidates.
    """
    os.environ.setdefault("EXAMSERVER_SECRET_KEY", "bench-not-a-secret")
    import datetime as dt

    from sqlalchemy import select

    from examserver import create_app
    from examserver.auth.models import User
    from examserver.db import utcnow
    from examserver.delivery.service import open_session
    from examserver.extensions import db
    from examserver.proctor.service import assign
    from examserver.sessions.models import Candidate as CandidateRow
    from examserver.sessions.models import ExamSession, Registration

    app = create_app({"DATABASE_URL": f"sqlite:///{template}"})
    with app.app_context():
        now = utcnow()
        drill = db.session.scalar(select(ExamSession).where(ExamSession.code == "DEMO-DRILL"))
        assert drill is not None, "no drill session in the template"
        code = f"BENCH-ROOM{seats}"
        room = db.session.scalar(select(ExamSession).where(ExamSession.code == code))
        if room is None:
            started = time.perf_counter()
            room = ExamSession(
                code=code, name=f"{drill.name}（基准测试 {seats} 座考场）",
                blueprint_id=drill.blueprint_id, kind=drill.kind, start_mode=drill.start_mode,
                exam_point=drill.exam_point, room=f"基准考场 {seats} 座", seats=seats,
                opens_at=drill.opens_at, closes_at=drill.closes_at,
                notes="delivery_bench.py: the proctor's snapshot of a room of this size.",
            )  # fmt: skip
            db.session.add(room)
            db.session.flush()
            drilled = db.session.scalars(
                select(Registration).where(Registration.session_id == drill.id)
                .order_by(Registration.seat).limit(seats)
            ).all()  # fmt: skip
            for seat, registration in enumerate(drilled, start=1):
                db.session.add(Registration(session_id=room.id, seat=seat,
                                            candidate_id=registration.candidate_id,
                                            admission_no=f"{code}-{seat:03d}"))  # fmt: skip
            db.session.flush()
            open_session(db.session, room, now)
            for user in db.session.scalars(select(User).where(User.role == "proctor")):
                assign(db.session, room, user)
            print(f"added the {len(drilled)}-seat bench room {code} to the template in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
        for exam in (drill, room):
            if exam.closes_at < now + dt.timedelta(hours=6):
                exam.opens_at = min(exam.opens_at, now - dt.timedelta(hours=1))
                exam.closes_at = now + dt.timedelta(days=1)
        db.session.commit()
        infos = [
            {"admission_no": admission_no, "id_number": id_number}
            for admission_no, id_number in db.session.execute(
                select(Registration.admission_no, CandidateRow.id_number)
                .join(CandidateRow, CandidateRow.id == Registration.candidate_id)
                .where(Registration.session_id == room.id).order_by(Registration.seat)
            )
        ]  # fmt: skip
        ids = {"drill_id": drill.id, "room_id": room.id, "room_code": code, "room": infos}
        db.session.rollback()
        db.engine.dispose()
    return ids


def start_server(kind: str, mode: str, port: int, template: Path, states: Path, db_dir: Path
                 ) -> tuple[subprocess.Popen[bytes], Path | None, Any]:  # fmt: skip
    # Named by this run's pid: two runs at once must never copy over each other's database.
    log = open(OUT / f"server-{kind}-{mode}-{os.getpid()}.log", "wb")  # noqa: SIM115 - closed by the caller
    if kind == "examserver":
        db_path = db_dir / f"examserver-bench-{mode}-{os.getpid()}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
            if Path(f"{template}{suffix}").exists():
                shutil.copyfile(f"{template}{suffix}", f"{db_path}{suffix}")
        cmd = [str(VENV_BIN / "examserver"), "serve", "--db", str(db_path),
               "--host", "127.0.0.1", "--port", str(port), "--async-mode", mode]  # fmt: skip
    else:
        db_path = None
        cmd = [PYTHON, str(ROOT / "bench" / "echo_server.py"), "--port", str(port),
               "--async-mode", mode, "--state", str(states)]  # fmt: skip
    # The server inherits this process's raised open-files limit.
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=server_env())
    return proc, db_path, log


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate the lists, add the counters, keep the latest done_at, sum cpu."""
    merged: dict[str, Any] = {}
    for result in results:
        for key, value in result.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, Counter):
                merged.setdefault(key, Counter()).update(value)
            elif key == "done_at":
                merged[key] = max(merged.get(key, 0.0), value)
            elif isinstance(value, int | float):
                merged[key] = merged.get(key, 0) + value
    return merged


class Room:
    """The client processes of one run and the commands sent to all of them."""

    def __init__(self, base_url: str, candidates: list[dict[str, str]], procs: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes = []
        self.procs = []
        indexed = list(enumerate(candidates))
        for k in range(procs):
            parent, child = ctx.Pipe()
            share = indexed[k::procs]
            proc = ctx.Process(target=client_process, args=(child, base_url, share,
                                                            len(candidates)), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def run(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        for pipe in self.pipes:
            pipe.send(command)
        results = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise SystemExit(f"a client process did not finish {command['cmd']} in time")
            results.append(pipe.recv())
        failed = [r["error"] for r in results if "error" in r]
        if failed:
            raise SystemExit(f"a client process failed: {failed}")
        return merge(results) if command["cmd"] != "acked" else {
            "acked": {k: v for r in results for k, v in r["acked"].items()},
            "timelines": {k: v for r in results for k, v in r["timelines"].items()},
        }

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send({"cmd": "close"})
            except OSError:
                pass
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            try:
                if pipe.poll(30):
                    pipe.recv()
            except (OSError, EOFError):
                pass
            proc.join(10)
            if proc.is_alive():
                proc.kill()


class ProctorConsole:
    """The proctor's process and the commands sent to it."""

    def __init__(self, base_url: str, room_infos: list[dict[str, str]]) -> None:
        ctx = mp.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.proc = ctx.Process(target=proctor_process, args=(child, base_url, room_infos),
                                daemon=True)  # fmt: skip
        self.proc.start()

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid

    def send(self, command: dict[str, Any]) -> None:
        self.pipe.send(command)

    def recv(self, what: str, timeout: float) -> dict[str, Any]:
        if not self.pipe.poll(timeout):
            raise SystemExit(f"the proctor's process did not finish {what} in time")
        result: dict[str, Any] = self.pipe.recv()
        if "error" in result:
            raise SystemExit(f"the proctor's process failed: {result['error']}")
        return result

    def run(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.send(command)
        return self.recv(command["cmd"], timeout)

    def close(self) -> None:
        try:
            self.pipe.send({"cmd": "close"})
            if self.pipe.poll(30):
                self.pipe.recv()
        except (OSError, EOFError):
            pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


def _per_second(times: list[float], begin: float, end: float) -> list[int]:
    counts = [0] * max(1, int(end - begin) + 1)
    for t in times:
        if begin <= t <= end:
            counts[int(t - begin)] += 1
    return counts


def delta_latency(timelines: dict[int, list[tuple[str, int, float, float]]],
                  pushes: list[tuple[float, int, int]],
                  windows: dict[str, tuple[float, float]]) -> dict[str, Any]:  # fmt: skip
    """Match every acked answer with the first roster row the proctor received that shows it.

    Answer k of an attempt (its k-th distinct question) is shown by the first row, in arrival
    order, with ``answered`` ≥ k. Latency: that row's arrival − the answer's emit (and − its
    ack), both ``time.monotonic()``, which is one clock for all processes on Linux.
    """
    rows: dict[int, tuple[list[float], list[int]]] = {}
    for arrived, attempt_id, answered in pushes:
        times, highest = rows.setdefault(attempt_id, ([], []))
        times.append(arrived)
        highest.append(max(answered, highest[-1] if highest else 0))
    out: dict[str, Any] = {}
    for phase, (begin, end) in windows.items():
        from_emit: list[float] = []
        from_ack: list[float] = []
        acked = measurable = 0
        for attempt_id, entries in timelines.items():
            times, highest = rows.get(attempt_id, ([], []))
            for answer_phase, answered, sent, acked_at in entries:
                if answer_phase != phase:
                    continue
                acked += 1
                if not answered:
                    continue  # a re-answer: `answered` does not change, nothing to see
                measurable += 1
                i = bisect.bisect_left(highest, answered)
                if i < len(times):
                    from_emit.append(times[i] - sent)
                    from_ack.append(times[i] - acked_at)
        out[phase] = {
            "acked": acked,
            "measurable": measurable,
            "covered": len(from_emit),
            "emit_to_row_ms": summary_ms(from_emit),
            "ack_to_row_ms": summary_ms(from_ack),
            "rows_received": sum(1 for arrived, _a, _n in pushes if begin <= arrived <= end),
            # Acks and rows per second of the phase: a stall shows as a dip.
            "acks_per_s": _per_second([e[3] for es in timelines.values() for e in es
                                       if e[0] == phase], begin, end),
            "rows_per_s": _per_second([p[0] for p in pushes], begin, end),
        }
    return out


def run_target(kind: str, mode: str, args: argparse.Namespace, template: Path,
               candidates: list[dict[str, str]], states: Path,
               bench_room: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    """Run every phase against one server; return its figures.

    With ``bench_room`` (examserver only), a proctor's console watches the drill room from
    before the herd, and the bench room's snapshot is timed idle and during both answer phases.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc, db_path, log = start_server(kind, mode, port, template, states, Path(args.db_dir))
    label = f"{kind}/{mode}"
    figures: dict[str, Any] = {"target": label, "kind": kind, "mode": mode}
    room: Room | None = None
    console: ProctorConsole | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(base_url + ("/exam" if kind == "examserver" else "/"), proc)
        if kind == "examserver" and bench_room is not None:
            console = ProctorConsole(base_url, bench_room["room"])
            snapshot_plan = {"drill": bench_room["drill_id"], "room": bench_room["room_id"],
                             "room_snapshots": args.snapshots,
                             "drill_snapshots": args.drill_snapshots}  # fmt: skip
            setup = console.run({"cmd": "setup", "answers": ROOM_ANSWERS, **snapshot_plan},
                                4 * CALL_TIMEOUT + PHASE_MARGIN)  # fmt: skip
            figures["proctor_setup"] = setup
            print(f"  {label} proctor: bench room {setup['room_live']} of "
                  f"{len(bench_room['room'])} answering "
                  f"{dict(setup['room_errors']) or ''}; watching the drill room "
                  f"({setup['drill_watch']})", file=sys.stderr)  # fmt: skip
            if "error" in setup["drill_watch"]:
                raise SystemExit(f"{label}: the proctor cannot watch the drill room")
        rss_idle = rss_kb(proc.pid)
        room = Room(base_url, candidates, args.client_procs)
        n = len(candidates)
        phases = [
            ("herd", {"cmd": "herd", "spread": args.herd_spread}, args.herd_spread),
            ("start", {"cmd": "start"}, 0.0),
            ("paced", {"cmd": "paced", "rate": args.rate, "duration": args.duration},
             args.duration),
            ("full", {"cmd": "full", "duration": args.full_duration}, args.full_duration),
        ]  # fmt: skip
        windows: dict[str, tuple[float, float]] = {}  # answer phases, time.monotonic()
        for name, command, length in phases:
            spy = profiler(proc.pid, f"{kind}-{mode}-{name}") if args.profile else None
            cpu_before = cpu_seconds(proc.pid)
            proctor_before = cpu_seconds(console.pid) if console is not None else 0.0
            busy_before, total_before = machine_cpu()
            drops_before = listen_drops()
            at = time.time() + 1.0  # every client process is waiting on its pipe by then
            at_monotonic = time.monotonic() + 1.0
            command["at"] = at
            snapshots = console is not None and name in ("paced", "full")
            if snapshots:
                assert console is not None
                # A 1,000-row snapshot holds the server's one loop for 100 ms or more: it would
                # be the stall the other figures measure, so the drill room only if asked.
                console.send({"cmd": "snapshots", "at": at, "duration": length, **snapshot_plan,
                              "drill_snapshots": args.loaded_drill_snapshots})  # fmt: skip
            result = room.run(command, length + PHASE_MARGIN + CALL_TIMEOUT)
            if name in ("paced", "full"):
                windows[name] = (at_monotonic, time.monotonic())
            if snapshots:
                assert console is not None
                result["snapshots"] = console.recv("snapshots", PHASE_MARGIN + CALL_TIMEOUT)
            result["wall_s"] = result.pop("done_at") - at
            result["server_cpu_s"] = cpu_seconds(proc.pid) - cpu_before
            result["client_cpu_s"] = result.pop("cpu_s")
            result["proctor_cpu_s"] = (cpu_seconds(console.pid) - proctor_before
                                       if console is not None else 0.0)  # fmt: skip
            busy, total = machine_cpu()
            result["machine_busy"] = (busy - busy_before) / max(total - total_before, 1)
            result["other_cpu_s"] = max(0.0, (busy - busy_before) / os.sysconf("SC_CLK_TCK")
                                        - result["server_cpu_s"] - result["client_cpu_s"]
                                        - result["proctor_cpu_s"])
            result["listen_drops"] = listen_drops() - drops_before
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
                spy = None
            if name == "herd":
                result["rss_per_connection_kb"] = (rss_kb(proc.pid) - rss_idle) / max(n, 1)
            figures[name] = result
            print(f"  {label} {name}: {_brief(name, result)}", file=sys.stderr)
            if name == "herd" and not result.get("connect_state"):
                raise SystemExit(f"{label}: no candidate connected: {dict(result['errors'])}")
        answered = room.run({"cmd": "acked"}, 60) if kind == "examserver" else {}
        acked = answered.get("acked", {})
        if console is not None:
            # Both rooms once more, every candidate now answering and the server idle again.
            figures["proctor_after"] = console.run(
                {"cmd": "snapshots", "at": time.time(), "duration": 0.0, **snapshot_plan},
                (args.snapshots + args.drill_snapshots + 1) * CALL_TIMEOUT,
            )
            collected = console.run({"cmd": "collect"}, 60)
            acked.update(collected["room_acked"])  # the bench room's answers are stored too
            figures["proctor"] = {
                "delta": delta_latency(answered["timelines"], collected["pushes"], windows),
                "rows_received": len(collected["pushes"]),
                "events_received": collected["events"],
                "bad_rows": collected["bad_pushes"],
                "still_connected": collected["connected"],
            }
        if kind == "examserver":
            proc.send_signal(signal.SIGKILL)  # what was acked must be on disk, whatever happens
            proc.wait(30)
            assert db_path is not None
            figures["durability"] = check_durability(db_path, acked)
    finally:
        # The server and the profiler first: nothing of ours may outlive the run.
        for child in (spy, proc):
            if child is not None and child.poll() is None:
                child.terminate()
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(15)
        if room is not None:
            room.close()
        if console is not None:
            console.close()
        log.close()
    return figures


def profiler(pid: int, label: str) -> subprocess.Popen[bytes]:
    """Attach py-spy to the server, idle stacks included (time blocked in SQLite shows)."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    out = OUT / f"profile-{label}.txt"
    return subprocess.Popen(  # noqa: S603
        [spy, "record", "--pid", str(pid), "--idle", "--nonblocking", "--format", "raw",
         "--rate", "200", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _brief(name: str, result: dict[str, Any]) -> str:
    errors = dict(result.get("errors") or {})
    key = {"herd": "connect_state", "start": "paper", "paced": "ack", "full": "ack"}[name]
    s = summary_ms(result.get(key, []))
    r = result
    text = (
        f"n={s['n']} p50={s['p50']:.1f} ms p99={s['p99']:.1f} ms wall={r['wall_s']:.1f} s; "
        f"cpu s: server {r['server_cpu_s']:.1f}, clients {r['client_cpu_s']:.1f}, "
        f"others {r['other_cpu_s']:.1f} (machine {r['machine_busy']:.0%} busy); "
        f"listen drops {r['listen_drops']}"
    )
    return text + (f"; errors {errors}" if errors else "")


def check_durability(db_path: Path, acked: dict[int, dict[int, tuple[int, list[str]]]]
                     ) -> dict[str, Any]:  # fmt: skip
    """Compare every acknowledged answer with the SQLite file after the server was killed."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT a.attempt_id, pi.question_version_id, a.choice, a.choice_seq"
            " FROM answer a JOIN paper_item pi ON pi.id = a.paper_item_id"
            " WHERE a.choice_seq > 0"
        ).fetchall()
    stored = {(r[0], r[1]): (r[3], json.loads(r[2])) for r in rows}
    expected = {(a, q): v for a, answers in acked.items() for q, v in answers.items()}
    missing = [k for k in expected if k not in stored]
    older = [k for k, (seq, _c) in expected.items() if k in stored and stored[k][0] < seq]
    differ = [k for k, (seq, choice) in expected.items()
              if k in stored and stored[k][0] == seq and stored[k][1] != choice]  # fmt: skip
    return {
        "acked_questions": len(expected),
        "answer_rows": len(stored),
        "missing": len(missing),
        "older_than_acked": len(older),
        "choice_differs": len(differ),
        "ok": not missing and not older and not differ and len(stored) == len(expected),
    }


# ============================================================================ report
def figures_of(run: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    herd, start, paced, full = run["herd"], run["start"], run["paced"], run["full"]
    return {
        "login_ms": summary_ms(herd["login"]),
        "connect_state_ms": summary_ms(herd["connect_state"]),
        "herd_wall_s": herd["wall_s"],
        "herd_errors": dict(herd["errors"]),
        "rss_per_connection_kb": herd["rss_per_connection_kb"],
        "paper_ms": summary_ms(start["paper"]),
        "start_ack_ms": summary_ms(start["start_ack"]),
        "start_wall_s": start["wall_s"],
        "start_errors": dict(start["errors"]),
        "paced_ack_ms": summary_ms(paced["ack"]),
        "paced_rate": len(paced["ack"]) / args.duration,
        "paced_lag_ms": summary_ms(paced["lag"]),
        "paced_errors": dict(paced["errors"]),
        "full_ack_ms": summary_ms(full["ack"]),
        "full_acks_per_s": len(full["ack"]) / args.full_duration,
        "full_errors": dict(full["errors"]),
        "server_cpu_s": {k: run[k]["server_cpu_s"] for k in ("herd", "start", "paced", "full")},
        "client_cpu_s": {k: run[k]["client_cpu_s"] for k in ("herd", "start", "paced", "full")},
        "cpu_per_op_ms": {
            "herd": 1000 * herd["server_cpu_s"] / max(len(herd["connect_state"]), 1),
            "start": 1000 * start["server_cpu_s"] / max(len(start["paper"]), 1),
            "paced": 1000 * paced["server_cpu_s"] / max(len(paced["ack"]), 1),
            "full": 1000 * full["server_cpu_s"] / max(len(full["ack"]), 1),
        },
        "others_cpu_s": {k: run[k]["other_cpu_s"] for k in ("herd", "start", "paced", "full")},
        "machine_busy": {k: run[k]["machine_busy"] for k in ("herd", "start", "paced", "full")},
        "listen_drops": {k: run[k]["listen_drops"] for k in ("herd", "start", "paced", "full")},
        "durability": run.get("durability"),
        "proctor_cpu_s": {k: run[k]["proctor_cpu_s"] for k in ("herd", "start", "paced", "full")},
        "proctor": proctor_figures(run) if "proctor" in run else None,
    }


def proctor_figures(run: dict[str, Any]) -> dict[str, Any]:
    """The proctor's figures of one examserver run: snapshots and delta latency."""
    setup = run["proctor_setup"]
    taken = {"idle": setup["idle"], "paced": run["paced"]["snapshots"],
             "full": run["full"]["snapshots"], "after": run["proctor_after"]}  # fmt: skip
    errors: Counter[str] = Counter()
    for got in taken.values():
        errors.update(got["errors"])
    return {
        "room_seats": setup["idle"]["room_rows"],
        "room_events": setup["idle"]["room_events"],
        "room_live": setup["room_live"],
        "room_errors": dict(setup["room_errors"]),
        "drill_seats": setup["drill_watch"]["rows"],
        "snapshot_room_ms": {k: summary_ms(v["room"]) for k, v in taken.items()},
        "snapshot_drill_ms": {
            "before_herd": summary_ms([setup["drill_watch"]["s"]]),
            **{k: summary_ms(v["drill"]) for k, v in taken.items()},
        },
        "snapshot_errors": dict(errors),
        "snapshot_late": {k: v.get("late", 0) for k, v in taken.items()},
        # In the order taken, spread evenly over the phase: a slow one can be placed in time.
        "snapshot_room_each_ms": {k: [round(x * 1000, 1) for x in v["room"]]
                                  for k, v in taken.items()},  # fmt: skip
        "snapshot_room_at_s": {k: [round(x, 2) for x in v["room_at"]]
                               for k, v in taken.items()},  # fmt: skip
        **run["proctor"],
    }


ROWS = [
    ("login p50 / p99 ms", lambda f: (f["login_ms"]["p50"], f["login_ms"]["p99"])),
    ("connect→state p50 / p99 ms",
     lambda f: (f["connect_state_ms"]["p50"], f["connect_state_ms"]["p99"])),
    ("herd wall s", lambda f: f["herd_wall_s"]),
    ("server RSS per connection KB", lambda f: f["rss_per_connection_kb"]),
    ("paper delivery p50 / p99 ms", lambda f: (f["paper_ms"]["p50"], f["paper_ms"]["p99"])),
    ("paper delivery max ms", lambda f: f["paper_ms"]["max"]),
    ("common start wall s", lambda f: f["start_wall_s"]),
    ("paced ack p50 / p99 ms", lambda f: (f["paced_ack_ms"]["p50"], f["paced_ack_ms"]["p99"])),
    ("paced ack max ms", lambda f: f["paced_ack_ms"]["max"]),
    ("paced acks/s", lambda f: f["paced_rate"]),
    ("full-speed ack p50 / p99 ms",
     lambda f: (f["full_ack_ms"]["p50"], f["full_ack_ms"]["p99"])),
    ("full-speed acks/s", lambda f: f["full_acks_per_s"]),
    ("server CPU ms per login+connect", lambda f: f["cpu_per_op_ms"]["herd"]),
    ("server CPU ms per start", lambda f: f["cpu_per_op_ms"]["start"]),
    ("server CPU ms per answer (pace)", lambda f: f["cpu_per_op_ms"]["paced"]),
    ("server CPU ms per answer (full)", lambda f: f["cpu_per_op_ms"]["full"]),
    ("server CPU s herd/start/paced/full",
     lambda f: tuple(f["server_cpu_s"][k] for k in ("herd", "start", "paced", "full"))),
    ("client CPU s herd/start/paced/full",
     lambda f: tuple(f["client_cpu_s"][k] for k in ("herd", "start", "paced", "full"))),
    ("others' CPU s herd/start/paced/full",
     lambda f: tuple(f["others_cpu_s"][k] for k in ("herd", "start", "paced", "full"))),
    ("SYNs dropped (listen queue full), herd", lambda f: float(f["listen_drops"]["herd"])),
    ("proctor CPU s herd/start/paced/full",
     lambda f: tuple(f["proctor_cpu_s"][k] for k in ("herd", "start", "paced", "full"))),
]  # fmt: skip


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        return " / ".join(f"{v:,.1f}" for v in value)
    return f"{value:,.1f}"


def _ratio(a: Any, b: Any) -> str:
    pairs = zip(a, b, strict=True) if isinstance(a, tuple) else [(a, b)]
    return " / ".join(f"{x / y:.2f}" if y else "-" for x, y in pairs)


def report(results: dict[str, dict[str, Any]], modes: list[str], args: argparse.Namespace) -> str:
    headers = ["figure"]
    for mode in modes:
        headers += [f"examserver {mode}", f"echo {mode}", "ratio"]
    rows = []
    for label, get in ROWS:
        row = [label]
        for mode in modes:
            ex, echo = results[f"examserver/{mode}"], results[f"echo/{mode}"]
            row += [_cell(get(ex)), _cell(get(echo)), _ratio(get(ex), get(echo))]
        rows.append(row)
    lines = [table(headers, rows), ""]
    for mode in modes:
        ex, echo = results[f"examserver/{mode}"], results[f"echo/{mode}"]
        paper = ex["paper_ms"]["p99"] / echo["paper_ms"]["p99"]
        full = ex["full_acks_per_s"] / echo["full_acks_per_s"]
        durable = ex["durability"]
        errors = {k: v for key in ("herd_errors", "start_errors", "paced_errors", "full_errors")
                  for k, v in ex[key].items()}  # fmt: skip
        lines += [
            f"{mode}: aims for {args.candidates:,} candidates",
            f"  paper delivery p99 {paper:.2f}× the echo's (aim ≤ 1.5): "
            + ("met" if paper <= 1.5 else "MISSED"),
            f"  answer ack p99 at {args.rate:g}/s: {ex['paced_ack_ms']['p99']:.1f} ms "
            "(aim < 50): " + ("met" if ex["paced_ack_ms"]["p99"] < 50 else "MISSED"),
            f"  durable full-speed acks {ex['full_acks_per_s']:,.0f}/s = {full:.2f}× the echo's "
            "(aim ≥ 0.33): " + ("met" if full >= 1 / 3 else "MISSED"),
            f"  durability after SIGKILL: {durable['acked_questions']:,} acked answers, "
            f"{durable['answer_rows']:,} rows, missing {durable['missing']}, older "
            f"{durable['older_than_acked']}, differing {durable['choice_differs']}: "
            + ("ok" if durable["ok"] else "FAILED"),
        ]
        if errors:
            lines.append(f"  errors: {errors}")
    return "\n".join(lines)


def _ms(s: dict[str, float], keys: tuple[str, ...] = ("p50", "p99", "max")) -> str:
    if not s["n"]:
        return "-"
    return " / ".join(f"{s[k]:,.1f}" for k in keys) + f" (n={s['n']})"


def proctor_report(results: dict[str, dict[str, Any]], modes: list[str],
                   args: argparse.Namespace) -> str:  # fmt: skip
    """The proctor's figures of each examserver run against the aims of issue 4."""
    lines: list[str] = []
    for mode in modes:
        p = (results.get(f"examserver/{mode}") or {}).get("proctor")
        if not p:
            continue
        room, drill, delta = p["snapshot_room_ms"], p["snapshot_drill_ms"], p["delta"]
        late = p["snapshot_late"]
        phases = {"paced": f"exam pace ({args.rate:g}/s)", "full": "full speed"}
        lines += [
            f"proctor ({mode}): one console watching the {p['drill_seats']:,}-seat drill room "
            "from before the herd",
            f"  snapshot of the {p['room_seats']}-seat bench room ({p['room_live']} answering, "
            f"{p['room_events']} log lines), watch → ack ms p50 / p99 / max:",
            f"    idle, before the herd {_ms(room['idle'])}; " + "; ".join(
                f"{label} {_ms(room[k])}"
                + (f" + {late[k]} not taken (past the phase's end)" if late[k] else "")
                for k, label in phases.items())
            + f"; idle, after the answers {_ms(room['after'])}",
            f"  snapshot of the {p['drill_seats']:,}-seat drill room, ms p50 / p99 / max: "
            f"idle, before the herd {_ms(drill['idle'])} (+ the watching console's first "
            f"{_ms(drill['before_herd'])}); "
            + "".join(f"{label} {_ms(drill[k])}; " for k, label in phases.items()
                      if drill[k]["n"])
            + f"idle, after the answers (every row answering) {_ms(drill['after'])}",
            "  delta latency, answer emitted → its row at the proctor, ms p50 / p95 / p99 / max:",
        ]  # fmt: skip
        for key, label in phases.items():
            d = delta[key]
            lines.append(
                f"    {label}: {_ms(d['emit_to_row_ms'], ('p50', 'p95', 'p99', 'max'))}, "
                f"{d['covered']:,} of {d['acked']:,} acked answers covered "
                f"({d['acked'] - d['measurable']:,} re-answers not measurable); "
                f"ack → row p50 / p99 {_ms(d['ack_to_row_ms'], ('p50', 'p99'))}; "
                f"{d['rows_received']:,} rows received"
            )
        for key, label in phases.items():
            snap, lag = room[key]["p99"], delta[key]["emit_to_row_ms"]["p99"]
            lines.append(
                f"  {label}: bench-room snapshot p99 {snap:,.1f} ms (aim < 100): "
                + ("met" if snap < 100 else "MISSED")
                + f"; delta latency p99 {lag:,.1f} ms (aim < 1,000): "
                + ("met" if lag < 1000 else "MISSED")
            )
        if p["snapshot_errors"] or p["room_errors"] or p["bad_rows"] or not p["still_connected"]:
            lines.append(f"  errors: snapshots {p['snapshot_errors']}, bench room "
                         f"{p['room_errors']}, bad rows {p['bad_rows']}, console still "
                         f"connected {p['still_connected']}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--modes", default="eventlet,gevent")
    parser.add_argument("--rate", type=float, default=100.0, help="answers/s across the room")
    parser.add_argument("--duration", type=float, default=30.0, help="exam-pace phase, s")
    parser.add_argument("--full-duration", type=float, default=20.0, help="full-speed phase, s")
    parser.add_argument("--herd-spread", type=float, default=2.0, help="logins spread over, s")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes")
    parser.add_argument("--db-dir", default=str(OUT),
                        help="folder of examserver's SQLite file (/dev/shm: no disk sync)")
    parser.add_argument("--targets", default="examserver,echo", help="servers to run")
    parser.add_argument("--reseed", action="store_true",
                        help="seed a new template database even if bench/out/ has one")
    parser.add_argument("--profile", action="store_true",
                        help="record each phase of each server with py-spy into bench/out/")
    parser.add_argument("--no-proctor", action="store_true",
                        help="no proctor's console (the runs of issue 3)")
    parser.add_argument("--room-seats", type=int, default=100,
                        help="seats of the bench room whose snapshot is timed (≤ candidates)")
    parser.add_argument("--snapshots", type=int, default=20,
                        help="bench-room snapshots per measurement (idle, pace, full speed)")
    parser.add_argument("--drill-snapshots", type=int, default=5,
                        help="drill-room snapshots before the herd and after the answers")
    parser.add_argument("--loaded-drill-snapshots", type=int, default=0,
                        help="drill-room snapshots during each answer phase (each one stalls "
                        "the server for its length)")
    parser.add_argument("--label", default="", help="suffix of the JSON file in bench/out/")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not all(ch.isalnum() or ch in "-_" for ch in args.label):
        parser.error("--label: letters, digits, - and _ only")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets or any(t not in ("examserver", "echo") for t in targets):
        parser.error("--targets is a comma-separated list of examserver, echo")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in ("eventlet", "gevent") for m in modes):
        parser.error("--modes is a comma-separated list of eventlet, gevent")
    if not 1 <= args.candidates <= 5000 or not 1 <= args.client_procs <= 16:
        parser.error("--candidates must be 1..5000 and --client-procs 1..16")
    if not 0 < args.rate <= 10_000 or not 0 < args.duration <= 600:
        parser.error("--rate must be in (0, 10000] and --duration in (0, 600]")
    if not 0 < args.full_duration <= 600 or not 0 <= args.herd_spread <= 60:
        parser.error("--full-duration must be in (0, 600] and --herd-spread in [0, 60]")
    if not 1 <= args.room_seats <= 1000 or not 0 <= args.snapshots <= 200:
        parser.error("--room-seats must be 1..1000 and --snapshots 0..200")
    if not 0 <= args.drill_snapshots <= 50 or not 0 <= args.loaded_drill_snapshots <= 50:
        parser.error("--drill-snapshots and --loaded-drill-snapshots must be 0..50")
    raise_open_files(args.candidates * 4 + 1024)
    # A SIGTERM (timeout, kill) unwinds like an error, so no server or client is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) / 2:
        print(f"warning: load average {load:.1f} before the run: other work on this machine "
              "will take CPU from the servers and clients (see 'others' CPU)", file=sys.stderr)
    template, candidates = seed(args.candidates, reuse=not args.reseed)
    bench_room = prepare_template(template, min(args.room_seats, len(candidates)))
    states = echo_states(template)
    results: dict[str, dict[str, Any]] = {}
    raw: dict[str, Any] = {}
    for mode in modes:
        for kind in targets:
            print(f"{kind} ({mode}), {len(candidates)} candidates", file=sys.stderr)
            run = run_target(kind, mode, args, template, candidates, states,
                             None if args.no_proctor else bench_room)
            raw[run["target"]] = run
            results[run["target"]] = figures_of(run, args)
    summary = {
        "candidates": len(candidates),
        "client_procs": args.client_procs,
        "rate": args.rate,
        "duration_s": args.duration,
        "full_duration_s": args.full_duration,
        "herd_spread_s": args.herd_spread,
        "cpus": os.cpu_count(),
        "load_average_before": load,
        "code": code_version(),
        "db_dir": args.db_dir,
        "proctor": not args.no_proctor,
        "room_seats": len(bench_room["room"]),
        "results": results,
    }
    suffix = f"-{args.label}" if args.label else ""
    write_json(OUT / f"delivery-{len(candidates)}{suffix}.json", summary)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
        return 0
    if len(targets) < 2:
        print(json.dumps(results, ensure_ascii=False, indent=2, default=str))
        print(proctor_report(results, modes, args), file=sys.stderr)
        return 0
    print(f"exam delivery benchmark: {len(candidates):,} candidates in {args.client_procs} "
          f"client processes, {os.cpu_count()} CPUs, 127.0.0.1, SQLite in {args.db_dir}; "
          f"pace {args.rate:g} answers/s for {args.duration:g} s, "
          f"full speed for {args.full_duration:g} s; load average before {load:.1f}; "
          f"examserver {summary['code']}")  # fmt: skip
    print()
    print(report(results, modes, args))
    if not args.no_proctor:
        print()
        print(proctor_report(results, modes, args))
    ok = all(r["durability"]["ok"] for k, r in results.items() if k.startswith("examserver"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
