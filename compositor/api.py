"""The library API: what the ``compositor`` command does, from Python, with frames in memory.

    import compositor

    production = compositor.load("path/to/production")   # or compositor.load() from inside one
    shot = compositor.cut(production, "sc010_c010")
    frame = compositor.render_frame(shot, 12)            # float32 premultiplied RGBA (H, W, 4)
    for frame in compositor.render_frames(shot, range(12, 37)):
        ...
    result = compositor.render_cut(shot)                 # frames and movies on disk, only what changed
    outputs = compositor.render_edit(production)         # every cut of the edit, then the screening cut

A frame in memory gets everything the render applies: the background (generated or read, retouched, steadied
by the temporal pass; built or reused under ``render/<cut>/bg/`` by its key), the cels the timesheet shows
under the camera, and the effects. Errors are the ``compositor.errors`` hierarchy (``CompositorError`` and
its subclasses, each also the built-in it resembles). ``compositor.moviepy.clip(shot)`` offers a cut as a
moviepy clip (``pip install 'compositor[moviepy]'``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from compositor.core import Progress
from compositor.errors import SpecError
from compositor.spec import Edit, Production, Shot, load_edit, load_shot


def load(root: Path | str | None = None) -> Production:
    """The production at ``root`` (the folder holding ``shots/edit.toml``), or the one around the current
    folder."""
    return Production.find() if root is None else Production.at(Path(root))


def edit(production: Production) -> Edit:
    """``shots/edit.toml``, validated."""
    return load_edit(production)


def cut(production: Production, name: str) -> Shot:
    """One cut, validated and resolved (``shots/<name>/shot.toml``, listed in the edit or not)."""
    return load_shot(production, name)


def _check_numbers(shot: Shot, numbers: Iterable[int]) -> list[int]:
    wanted = list(numbers)
    for n in wanted:
        if n not in shot.frame_numbers():
            raise SpecError(
                f"{shot.display}: frame {n} is outside the cut ({shot.start}-{shot.start + shot.frames - 1})"
            )
    return wanted


def render_frames(shot: Shot, numbers: Iterable[int] | None = None, threads: int = 1) -> Iterator[np.ndarray]:
    """Frames ``numbers`` (timesheet numbers; default the whole cut) in memory, in the order given, as float32
    premultiplied RGBA ``(H, W, 4)``. Nothing is written but the background, if it was stale."""
    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    wanted = _check_numbers(shot, shot.frame_numbers() if numbers is None else numbers)
    renderer = CutRenderer(shot)
    if threads <= 1:
        for n in wanted:
            yield renderer.frame(n - shot.start)
        return
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(threads) as pool:
        yield from pool.map(lambda n: renderer.frame(n - shot.start), wanted)


def render_frame(shot: Shot, number: int) -> np.ndarray:
    """Frame ``number`` (as on the timesheet) of the cut, float32 premultiplied RGBA ``(H, W, 4)``."""
    return next(render_frames(shot, [number]))


def render_cut(shot: Shot, presets: list[str] | None = None, progress: Progress | None = None):  # noqa: ANN201
    """Bring the cut's frames and movies up to date (``steps.composite.render_cut``); returns a ``CutResult``."""
    from compositor.steps.composite import render_cut as run  # noqa: PLC0415

    return run(shot, presets=presets, progress=progress)


def render_edit(production: Production, progress: Progress | None = None) -> dict[str, Path]:
    """Every cut of the edit brought up to date in the edit's preset, then the screening cut and its exports;
    returns their paths by kind. A cut already fresh costs a check of its keys."""
    from compositor.reporting import cut_record, record_run  # noqa: PLC0415
    from compositor.steps.composite import render_cut as run  # noqa: PLC0415
    from compositor.steps.edit import build_edit  # noqa: PLC0415
    from compositor.steps.edit.plan import check_fits_edit  # noqa: PLC0415

    the_edit = load_edit(production)
    for name in the_edit.edit.cuts:  # a cut the screening cut cannot join: said before any renders
        check_fits_edit(load_shot(production, name, the_edit))
    for name in the_edit.edit.cuts:
        shot = load_shot(production, name, the_edit)
        started = time.monotonic()
        record = cut_record(shot, run(shot, presets=[the_edit.edit.encode], progress=progress), time.monotonic() - started)
        if record is not None:  # what the table at the end of the run shows
            record_run(shot.paths.run_record, record)
    return build_edit(the_edit, progress)
