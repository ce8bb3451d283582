"""Several workers: with a Redis message queue, an emit from any process reaches a terminal
connected to another worker (what the clock leader's ticks and submissions rely on)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from flask_socketio import SocketIO

from tests.conftest import CI, REDIS_URL
from tests.e2e.conftest import EXAMSERVER, _free_port

pytestmark = pytest.mark.redis


@pytest.fixture
def queued_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`examserver serve` (eventlet) on a demo database, sharing a Redis message queue."""
    try:
        import redis

        # Closed at once: a socket left to the collector is a ResourceWarning, an error here.
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
            client.ping()
    except Exception as exc:  # noqa: BLE001
        if CI:
            pytest.fail(f"CI needs Redis at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    db_path = tmp_path / "mq.db"
    env = {**os.environ, "EXAMSERVER_SECRET_KEY": "mq-secret", "EXAMSERVER_MESSAGE_QUEUE": REDIS_URL}
    seeded = subprocess.run(
        [EXAMSERVER, "demo", "--db", str(db_path), "--seed-only", "--json"],
        capture_output=True, text=True, env=env, timeout=180, check=True,
    )  # fmt: skip
    world = json.loads(seeded.stdout)
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [EXAMSERVER, "serve", "--db", str(db_path), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    if proc.poll() is not None:
        pytest.fail("examserver serve did not start: " + (tmp_path / "serve.log").read_text())
    world["base_url"] = f"http://127.0.0.1:{port}"
    yield world
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_an_emit_from_another_process_reaches_the_terminal(queued_server) -> None:
    base = queued_server["base_url"]
    session = next(s for s in queued_server["sessions"] if s["start_mode"] == "window")
    candidate = session["candidates"][0]
    login = requests.post(
        base + "/api/exam/login",
        json={"admission_no": candidate["admission_no"], "id_number": candidate["id_number"], "terminal": "terminal-mq01"},
        timeout=10,
    ).json()
    got = threading.Event()
    messages: list[Any] = []
    client = socketio.Client()

    @client.on("announcement", namespace="/exam")
    def _announcement(data: Any) -> None:
        messages.append(data)
        got.set()

    client.connect(base, namespaces=["/exam"], transports=["websocket"],
                   auth={"token": login["token"], "terminal": "terminal-mq01"}, wait_timeout=10)
    # Another worker (or a CLI process) holds only the queue, no connections of its own.
    outsider = SocketIO(message_queue=REDIS_URL, async_mode="threading")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not got.is_set():
            outsider.emit("announcement", {"text": "跨进程通知", "at": "now"},
                          to=f"attempt:{login['attempt_id']}", namespace="/exam")
            got.wait(0.5)
        assert messages and messages[0]["text"] == "跨进程通知"
    finally:
        client.disconnect()
        # Its Redis connection, closed now rather than left to the collector (a ResourceWarning
        # at an arbitrary later moment, which pytest turns into an error).
        outsider.server.manager.redis.close()
