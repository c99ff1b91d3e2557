"""A cut's background temporal pass on a Dask cluster: ``compositor render <cut> --scheduler`` and ``compositor bg
<cut> --scheduler`` (``make FARM=tcp://host:8786``) run the pass's windows on the workers, not on this machine.

The pass is computed a window at a time, each window from its own frames and ``context`` frames either side
(``compositor.temporal.bidirectional``), never from another window's result, so each window is a task:
``background_window`` loads the cut on the worker (the production on shared storage at the same path, as
``compositor.farm`` needs), reads the window's canvases from the cache and its guide frames, computes the outputs
of its core frames with the same arithmetic as a local run and writes their ``bg.NNNN.png`` itself: the files are
the same, pixel for pixel. The canvases are painted (or found in the cache) on this machine first, as locally.

The measurements (``qc.json``): each window returns its frames' sums (fidelity and both warping errors of every
link inside it), added up here in frame order as a local run adds them; the link into a window's first frame
crosses a join, and is measured here from the outputs on both sides of it, which the windows return (two frames
a window). A local run and a cluster write the same ``qc.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from compositor.core import Progress
from compositor.core.io import read_image
from compositor.errors import CompositorError, RenderError
from compositor.spec import Production, Shot, load_shot
from compositor.steps.background import (
    _guide_source,
    ensure_background,
    load_retouch,
    write_qc,
    write_steadied,
)
from compositor.temporal.metrics import _Tally

Row = tuple[float, ...]
"""A frame's sums: ``(sse, count)`` for a frame measured alone (the cut's first, a window's first), else
``(fidelity, before, after, count)`` (``kernels._pair_stats``)."""


class _Rows(_Tally):
    """A tally that keeps each frame's sums in order (to be added up where the windows meet) and each frame's
    shape."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []

    def fidelity(self, out: np.ndarray, ref: np.ndarray) -> None:
        from compositor.temporal.kernels import _sse_rgb  # noqa: PLC0415

        self.rows.append(_sse_rgb(out, ref))

    def add_stats(self, out: np.ndarray, fidelity: float, before: float, after: float, count: int) -> None:
        self.rows.append((fidelity, before, after, count))


def background_window(
    root: str, cut: str, sources: list[str], start: int, stop: int, painted: list[int] | None
) -> tuple[list[Row], np.ndarray | None, np.ndarray | None] | CompositorError:
    """What a worker runs: the pass's outputs for canvases ``[start, stop)`` of ``cut``, written to its
    ``render/<cut>/bg/``. ``sources``: the cached canvas files of the whole cut (those not painted under
    ``paint_every`` need not exist); ``painted``: the keyframes, or None. Returns the frames' sums and the first
    and last outputs (for the links across the joins), or a user error as a value (not retried)."""
    from compositor.temporal.bidirectional import _run_windows, window_reads  # noqa: PLC0415

    try:
        shot = load_shot(Production(Path(root)), cut)
        assert shot.spec.temporal is not None
        settings = shot.spec.temporal.settings()
        total = len(sources)
        lo, hi = window_reads(start, stop, total, settings)
        keys = set(painted) if painted is not None else None
        frames = (read_image(Path(sources[i])) if keys is None or i in keys else None for i in range(lo, hi))
        guides = _guide_source(shot, total, lo, hi)
        rows = _Rows() if painted is None else None
        names = ("the canvases", "the guide")
        outputs = _run_windows(frames, guides, settings, rows, names, painted, start, stop, lo, total)
        retouch = load_retouch(shot)
        first = last = None
        # To the end of the outputs (exactly stop - start of them): the rows are complete once the pass is.
        for i, out in enumerate(outputs, start):
            write_steadied(shot, i, out, retouch)
            if i == start:
                first = out
            last = out
        assert first is not None and last is not None
        if rows is None:  # paint mode measures nothing: no joins to measure
            return [], None, None
        return rows.rows, first, last
    except CompositorError as e:
        # Without its traceback: that would keep the pass (and its motion thread) alive as long as the
        # cluster keeps the result.
        return e.with_traceback(None)


def _join(shot: Shot, sources: list[Path], settings: Any, t: int, before: np.ndarray, after: np.ndarray) -> Row:
    """The sums of the link into frame ``t`` (a window's first), as a local run measures it: the pass's
    outputs ``before`` (frame t-1) and ``after`` (frame t), the guide's motion between them."""
    from compositor.temporal.flow import MotionAnalyser, warp  # noqa: PLC0415
    from compositor.temporal.kernels import _pair_stats  # noqa: PLC0415

    g0, g1 = (np.ascontiguousarray(g, dtype=np.float32) for g in _guide_source(shot, len(sources), t - 1, t + 1))
    analyser = MotionAnalyser.for_settings(g0.shape[1], g0.shape[0], settings)
    back, _ = analyser.pair(analyser.prepare(g0), analyser.prepare(g1))
    prev_in, cur = read_image(sources[t - 1]), read_image(sources[t])
    at = back.sample_at
    return _pair_stats(cur, after, warp(prev_in, at), warp(before, at), back.valid)


def _add_up(rows: list[Row], size: tuple[int, int]) -> dict[str, Any]:
    """``measure``'s figures from the frames' sums in frame order, added as ``_Tally`` adds them."""
    tally = _Tally()
    shape = np.empty((size[1], size[0], 1), np.uint8)  # only its shape is read
    for row in rows:
        if len(row) == 2:
            sse, count = row
            tally.size = size
            tally.frames += 1
            tally.sse += sse
            tally.samples += 3 * int(count)
        else:
            fidelity, before, after, count = row
            tally.add_stats(shape, fidelity, before, after, int(count))
    return tally.result()


def steady_on_cluster(client: Any) -> Any:
    """A ``steps.background.SteadyRunner`` that runs the cut's temporal pass on ``client``'s cluster, a task a
    window (``temporal.bidirectional.windows``); returns when every window is written and ``qc.json`` with them."""
    from compositor.farm import _distributed  # noqa: PLC0415
    from compositor.temporal.bidirectional import windows  # noqa: PLC0415

    def steady(shot: Shot, sources: list[Path], progress: Progress | None, painted: list[int] | None) -> None:
        distributed = _distributed()
        assert shot.spec.temporal is not None
        settings = shot.spec.temporal.settings()
        parts = windows(len(sources), settings)
        names = [str(p) for p in sources]
        root = str(shot.production.root)
        futures = {
            client.submit(
                background_window, root, shot.name, names, r.start, r.stop, painted, retries=2, pure=False
            ): r
            for r in parts
        }
        rows: dict[int, list[Row]] = {}
        firsts: dict[int, np.ndarray] = {}
        lasts: dict[int, np.ndarray] = {}
        before = {r.stop: r.start for r in parts}  # a window's start → the start of the window before it

        def joins() -> None:
            """Measure each join whose outputs on both sides are in, and let those go (memory)."""
            for start in [s for s in firsts if s in before and before[s] in lasts]:
                link = _join(shot, sources, settings, start, lasts.pop(before[start]), firsts.pop(start))
                rows[start][0] = link

        done = 0
        try:
            for future in distributed.as_completed(list(futures), loop=client.loop):
                try:
                    result = future.result()
                except Exception as e:  # noqa: BLE001 - the cluster's own failures (KilledWorker, a bug)
                    reason = f"{type(e).__name__}: {e.args[0]}" if e.args else type(e).__name__
                    raise RenderError(
                        f"{shot.display}: a window of the background's temporal pass failed on the cluster: {reason}"
                    ) from e
                if isinstance(result, CompositorError):
                    raise result
                r = futures[future]
                rows[r.start], first, last = result
                if painted is None:  # the links across joins are measured (paint mode measures nothing)
                    if r.start > 0:
                        firsts[r.start] = first
                    if r.stop < len(sources):
                        lasts[r.start] = last
                    joins()
                done += len(r)
                if progress:
                    progress(f"{shot.name}: temporal pass on the cluster", done, len(sources))
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                client.cancel(pending)
        measured: dict[str, Any] = {"frames": len(sources)}
        if painted is None:
            measured = _add_up([row for r in parts for row in rows[r.start]], shot.canvas)
        write_qc(shot, measured)

    return steady


def background_on_cluster(
    scheduler: str, shot: Shot, progress: Progress | None = None, touch: bool = False
) -> dict[str, Any]:
    """``ensure_background`` with the temporal pass on the Dask cluster at ``scheduler``: the cluster is
    reached only when the background must be rebuilt and has a pass to run. Returns the manifest."""
    from compositor.farm import connect  # noqa: PLC0415
    from compositor.steps.background import _steadied, background_key, is_fresh, read_manifest  # noqa: PLC0415

    if not _steadied(shot) or is_fresh(shot, read_manifest(shot), background_key(shot)[0]):
        return ensure_background(shot, progress, touch=touch)
    with connect(scheduler) as client:
        return ensure_background(shot, progress, touch=touch, steady=steady_on_cluster(client))
