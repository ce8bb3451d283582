"""Browser tests: real Debian Chromium driven by Playwright, against `examserver demo` served
in its own process exactly as `make demo` serves it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CI

CHROMIUM = os.environ.get("EXAMSERVER_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXAMSERVER = str(Path(sys.executable).with_name("examserver"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (Debian package `chromium`)"
        if CI:
            pytest.fail("CI needs " + reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Seed a fresh demo database and serve it with `examserver demo` on a free port."""
    db_path = tmp_path_factory.mktemp("demo") / "demo.db"
    env = {**os.environ, "EXAMSERVER_SECRET_KEY": "e2e-secret"}
    seeded = subprocess.run(
        [EXAMSERVER, "demo", "--db", str(db_path), "--seed-only", "--json"],
        capture_output=True, text=True, env=env, timeout=180, check=True,
    )  # fmt: skip
    world = json.loads(seeded.stdout)
    port = _free_port()
    log = open(db_path.with_suffix(".log"), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [EXAMSERVER, "demo", "--db", str(db_path), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
    if proc.poll() is not None:
        log.close()
        pytest.fail("examserver demo did not start: " + db_path.with_suffix(".log").read_text())
    world["base_url"] = f"http://127.0.0.1:{port}"
    yield world
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(15000)
    yield tab
    context.close()
