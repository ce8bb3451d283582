"""A probe of the server's garbage collector, for benchmark runs only.

    PYTHONPATH=bench/gcprobe .venv/bin/python bench/delivery_bench.py ...

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``: in an ``examserver`` process
this one logs every collection that took over 2 ms (time, generation, duration, objects freed) to
``bench/out/gc-PID.log`` through ``gc.callbacks``. Other processes (the bench, its clients, the
echo server) are left alone. It changes nothing else.

``EXAMSERVER_GC_CENSUS=S`` also takes a census of what the collector frees: from S seconds after
start-up, the next three collections that free over 1,000 objects keep their garbage
(``gc.DEBUG_SAVEALL``) long enough to count it by type, written to ``bench/out/gc-census-PID.txt``.
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
    _census_after = float(os.environ.get("EXAMSERVER_GC_CENSUS", "0") or 0)
    _born = time.monotonic()
    _censuses: list[int] = []

    def _census(info: dict[str, Any]) -> None:
        from collections import Counter

        counts = Counter(type(o).__module__ + "." + type(o).__qualname__ for o in gc.garbage)
        with open(_OUT / f"gc-census-{os.getpid()}.txt", "a") as out:
            out.write(f"gen{info['generation']} collected={info['collected']}\n")
            for name, count in counts.most_common(30):
                out.write(f"  {count:7d} {name}\n")
        gc.garbage.clear()

    def _probe(phase: str, info: dict[str, Any]) -> None:
        census_on = bool(gc.get_debug() & gc.DEBUG_SAVEALL)
        if phase == "start":
            if _census_after and len(_censuses) < 3 and time.monotonic() - _born > _census_after:
                gc.set_debug(gc.DEBUG_SAVEALL)
            _started[0] = time.perf_counter()
            return
        if census_on:
            gc.set_debug(0)
            if info["collected"] > 1000:
                _censuses.append(info["collected"])
                _census(info)
            gc.garbage.clear()
            return
        took = (time.perf_counter() - _started[0]) * 1000
        if took > 2:
            _log.write(
                f"{time.monotonic():.3f} gen{info['generation']} {took:.1f}ms "
                f"collected={info['collected']}\n"
            )

    gc.callbacks.append(_probe)
