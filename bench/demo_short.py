"""The demo short's render, timed per stage: frames per second for each cut's background, composite+encode
(with CPU seconds per frame for decode, composite, frame write) and the screening cut.

Renders a copy of the demo production under bench/out/demo_short/ from scratch (an empty render/ and cache), so
the figures include painting and the temporal pass; the repository's own render/ is left alone.

Each cut: ``steps.background.ensure_background`` (timed as "bg"), then ``steps.composite.render_cut`` on the fresh
tree (every frame composited, every movie segment encoded and joined: "comp+enc"); then ``steps.edit.build_edit``.

    python bench/demo_short.py [--cuts CUT ...]     # --cuts: only those cuts (no screening cut unless all)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor.spec import Production, load_edit, load_shot  # noqa: E402
from compositor.steps.background import ensure_background  # noqa: E402
from compositor.steps.composite import CutRenderer, render_cut  # noqa: E402
from compositor.steps.edit import build_edit  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuts", nargs="+", help="render only these cuts of the edit (the screening cut is skipped)")
    args = parser.parse_args(argv)
    work = ROOT / "bench" / "out" / "demo_short"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "shots", work / "shots")
    shutil.copytree(ROOT / "templates", work / "templates")
    production = Production(work)
    edit = load_edit(production)
    rows = []
    total_frames, started_all = 0, time.perf_counter()
    cuts = edit.edit.cuts
    if args.cuts:
        unknown = [c for c in args.cuts if c not in cuts]
        if unknown:
            parser.error(f"not in the edit: {', '.join(unknown)} (have: {', '.join(cuts)})")
        cuts = [c for c in cuts if c in args.cuts]
    whole = list(cuts) == list(edit.edit.cuts)
    for cut in cuts:
        shot = load_shot(production, cut, edit)
        t0 = time.perf_counter()
        manifest = ensure_background(shot)
        t1 = time.perf_counter()
        renderer = CutRenderer(shot, manifest)
        render_cut(shot, renderer=renderer)
        t2 = time.perf_counter()
        per_frame = {k: 1000 * v / shot.frames for k, v in renderer.times.seconds.items()}
        rows.append((cut, shot.frames, f"{shot.size[0]}x{shot.size[1]}", t1 - t0, t2 - t1, per_frame))
        total_frames += shot.frames
    t3 = time.perf_counter()
    if whole:
        build_edit(edit)
    edit_seconds = time.perf_counter() - t3
    total = time.perf_counter() - started_all

    print(f"demo short: {len(rows)} of {len(edit.edit.cuts)} cuts, {total_frames} frames, from scratch (no cache)")
    print(f"{'cut':<12} {'frames':>6} {'size':>9} {'bg s':>6} {'bg fps':>7} {'comp+enc s':>10} {'fps':>6}  "
          f"CPU ms/frame: decode / composite / write")
    for cut, frames, size, bg, comp, per_frame in rows:
        stages = " / ".join(f"{per_frame.get(k, 0):.1f}" for k in ("decode", "composite", "write"))
        print(f"{cut:<12} {frames:>6} {size:>9} {bg:>6.2f} {frames / bg:>7.1f} {comp:>10.2f} {frames / comp:>6.1f}  {stages}")
    if whole:
        print(f"screening cut (slate, join, OTIO, EDL, review page): {edit_seconds:.2f} s")
    else:
        print("screening cut: skipped (not every cut rendered)")
    print(f"whole short: {total:.1f} s, {total_frames / total:.1f} frames per second end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
