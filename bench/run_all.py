"""``make bench``: run every benchmark in bench/ one after another and print their tables.

Known benchmarks run in a fixed order (the demo short, the speed-and-scale bench of the cut, the one-drawing
re-render of it, ...); any other ``bench/*.py`` that is not a helper module runs after them. A missing script
is reported and skipped; a failing one is reported with its last lines, the others still run, and the exit
status says that one failed.

    python bench/run_all.py [--quick] [--only NAME ...]

``--quick`` is passed to the scripts that take it (and ``BENCH_QUICK=1`` is set for all of them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ORDER = [
    "demo_short.py",
    "bench_cut.py",
    "speed.py",
    "rerender.py",
    "flow_presets.py",
    "temporal_bench.py",
    "diffusion_cuda.py",
    "effects_camera.py",
    "effects_tone.py",
]
"""The benchmarks, in the order they run."""
HELPERS = {"run_all.py", "make_bench_cut.py", "ffmpeg_peer.py", "blender_peer.py"}
"""Modules the benchmarks use, not benchmarks themselves."""
TAKES_QUICK = {"bench_cut.py", "speed.py"}
TIMEOUT = 30 * 60


def scripts() -> list[tuple[str, Path | None]]:
    found = {p.name: p for p in BENCH.glob("*.py") if p.name not in HELPERS and not p.name.startswith("_")}
    ordered = [(name, found.pop(name, None)) for name in ORDER]
    return ordered + sorted(found.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs where a benchmark offers them")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scripts (e.g. bench_cut.py)")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.quick:
        env["BENCH_QUICK"] = "1"
    summary: list[tuple[str, str, float]] = []
    started_all = time.perf_counter()
    for name, path in scripts():
        if args.only is not None and name not in args.only:
            continue
        print(f"\n=== {name} " + "=" * max(0, 100 - len(name)), flush=True)
        if path is None:
            print(f"(missing: bench/{name} is not there yet; skipped)")
            summary.append((name, "missing", 0.0))
            continue
        cmd = [sys.executable, str(path)] + (["--quick"] if args.quick and name in TAKES_QUICK else [])
        started = time.perf_counter()
        try:
            done = subprocess.run(cmd, cwd=BENCH.parent, env=env, timeout=TIMEOUT)
            status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
        except subprocess.TimeoutExpired:
            status = f"timed out after {TIMEOUT} s"
        summary.append((name, status, time.perf_counter() - started))
    print("\n=== summary " + "=" * 92)
    for name, status, seconds in summary:
        print(f"{name:28s} {status:24s} {seconds:7.1f} s")
    print(f"{'all':28s} {'':24s} {time.perf_counter() - started_all:7.1f} s")
    return 1 if any(s.startswith(("failed", "timed out")) for _, s, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
