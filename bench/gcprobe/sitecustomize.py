"""A probe of the server's garbage collector, for benchmark runs only.

    PYTHONPATH=bench/gcprobe .venv/bin/python bench/delivery_bench.py ...

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``: in an ``examserver`` process
this one logs every collection that took over 2 ms (time, generation, duration, objects freed) to
``bench/out/gc-PID.log`` through ``gc.callbacks``. Other processes (the bench, its clients, the
echo server) are left alone. It changes nothing else.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

if any("examserver" in arg for arg in sys.argv[:2]):
    _OUT = Path(__file__).resolve().parent.parent / "out"
    _OUT.mkdir(exist_ok=True)
    _log = open(_OUT / f"gc-{os.getpid()}.log", "a", buffering=1)  # noqa: SIM115
    _started: list[float] = [0.0]

    def _probe(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        took = (time.perf_counter() - _started[0]) * 1000
        if took > 2:
            _log.write(
                f"{time.monotonic():.3f} gen{info['generation']} {took:.1f}ms "
                f"collected={info['collected']}\n"
            )

    gc.callbacks.append(_probe)
