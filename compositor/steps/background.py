"""The background step: ``render/<cut>/bg/``, the canvases the camera looks at, with the key that made them.

Each canvas comes from the cut's backend (``compositor.backgrounds``), cached under ``render/cache/`` by the
key of its description (so a canvas is painted or generated once, whichever cut or run asks); the retouch
paint-over is laid on top; a ``[temporal]`` pass steadies a background that changes from frame to frame and
writes its measurements to ``qc.json``. ``bg.json``, written last, records the key of everything that made
the folder and one key per canvas: `ensure_background` rebuilds exactly when that key no longer matches.

With ``[temporal] paint_every`` only the keyframes (``keyframes``) are painted and cached; the pass carries their
paint to the other frames, and ``bg.json`` lists them (``painted``). The pass may run on a Dask cluster
(``steady``: ``compositor.steps.background_farm``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from compositor.backgrounds import backend
from compositor.core import Progress
from compositor.core.digest import content_key, file_digest
from compositor.core.io import (
    FrameSource,
    copy_file_atomic,
    ensure_folder,
    read_image,
    read_input_image,
    remove_file,
    remove_stale_temp_files,
    write_bytes_atomic,
    write_image,
)
from compositor.core.io import touch as mark_checked
from compositor.errors import SpecError
from compositor.layout import cache_file
from compositor.spec import QCRecord, Shot, TemporalQC

BACKGROUND_VERSION = 2
"""Bump when this step changes the pixels it makes from the same canvases (retouch, temporal pass)."""


def _steadied(shot: Shot) -> bool:
    temporal = shot.spec.temporal
    return temporal is not None and temporal.method != "none"


def _guide_path(shot: Shot) -> tuple[Path | None, str]:
    temporal = shot.spec.temporal
    if temporal is not None and temporal.guide:
        return shot.files.get("temporal.guide"), "temporal.guide"
    return shot.files.get("background.plate"), "background.plate"


def _descriptions(module: ModuleType, shot: Shot) -> list[dict[str, Any]]:
    return [module.describe(shot, i) for i in range(module.frame_count(shot))]


def background_key(shot: Shot) -> tuple[str, list[str]]:
    """The key of the cut's whole background and one key per canvas (what each ``bg.NNNN.png`` holds).

    Made of the canvases' descriptions (the backend's, which are also their cache keys), the retouch's bytes,
    and for a steadied background the temporal settings and the guide's frames (then every canvas depends on
    all before it: the pass is recursive).
    """
    module = backend(shot.spec.background.source)
    canvases = [content_key(d) for d in _descriptions(module, shot)]
    retouch = shot.files.get("background.retouch")
    common: dict[str, Any] = {
        "version": BACKGROUND_VERSION,
        "canvas": list(shot.canvas),
        "retouch": file_digest(retouch) if retouch is not None else None,
    }
    if _steadied(shot) and len(canvases) > 1:
        assert shot.spec.temporal is not None
        guide, key = _guide_path(shot)
        common["temporal"] = shot.spec.temporal.settings().model_dump()
        if shot.spec.temporal.paint_every > 0:  # which canvases are painted: the keyframe rule's version too
            from compositor.temporal.keyframes import KEYFRAME_RULE  # noqa: PLC0415 (OpenCV flow, only when asked)

            common["keyframe_rule"] = KEYFRAME_RULE
        common["guide"] = None
        if guide is not None:
            source = FrameSource(guide, f"{shot.display}: {key}", shot.production.rel, hold_missing=shot.spec.background.hold_missing)
            # Frame by frame (a held frame counts again): which file each frame is, not only which files.
            files = [source.frame_file(i) for i in range(len(source))] if source.sequence else source.files()
            common["guide"] = [file_digest(p) for p in files]
        whole = content_key({**common, "canvases": canvases})
        return whole, [content_key({"whole": whole, "index": i}) for i in range(len(canvases))]
    per_canvas = [content_key({**common, "canvas_key": c}) for c in canvases]
    return content_key({**common, "canvases": canvases}), per_canvas


def read_manifest(shot: Shot) -> dict[str, Any] | None:
    """``bg.json`` as written, or None when there is none (or it cannot be read: then it is rebuilt)."""
    path = shot.paths.bg_manifest
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_fresh(shot: Shot, manifest: dict[str, Any] | None, key: str) -> bool:
    if manifest is None or manifest.get("key") != key:
        return False
    return all(shot.paths.bg_frame(i).is_file() for i in range(int(manifest.get("frames", 0))))


SteadyRunner = Callable[[Shot, list[Path], "Progress | None", "list[int] | None"], None]
"""Runs the temporal pass of a cut elsewhere (a Dask cluster: ``steps.background_farm``), given the cached canvas
files and the keyframes: writes ``bg.NNNN.png`` and ``qc.json`` as ``_steady`` does, pixel for pixel."""


def ensure_background(
    shot: Shot, progress: Progress | None = None, touch: bool = False, steady: SteadyRunner | None = None
) -> dict[str, Any]:
    """The cut's background manifest, rebuilding ``render/<cut>/bg/`` first if its key no longer matches the
    inputs (a new prompt, a swapped plate, a changed style or retouch). Returns the manifest.

    ``touch``: mark a fresh ``bg.json`` as checked now, for make (whose ``bg`` rule ran because an input's
    file time changed though its content did not). ``steady``: run the temporal pass there instead of here."""
    key, canvas_keys = background_key(shot)
    remove_stale_temp_files(shot.paths.bg_folder)
    manifest = read_manifest(shot)
    if is_fresh(shot, manifest, key):
        if touch:
            mark_checked(shot.paths.bg_manifest)
        assert manifest is not None
        return manifest
    return build_background(shot, progress, key, canvas_keys, steady)


# ------------------------------------------------------------------------------------------------------------
# Building


def _paint_frames(module: ModuleType, shot: Shot, indices: list[int], progress: Progress | None) -> Iterator[np.ndarray]:
    if hasattr(module, "paint_frames"):
        yield from module.paint_frames(shot, indices, progress)
    else:
        for i in indices:
            yield module.paint(shot, i, progress)


def canvas_files(shot: Shot, descriptions: list[dict[str, Any]] | None = None) -> list[Path]:
    """Where the cache keeps each canvas of the cut (painted or not yet), in order."""
    if descriptions is None:
        descriptions = _descriptions(backend(shot.spec.background.source), shot)
    return [cache_file(shot.production.root, content_key(d)) for d in descriptions]


def cached_canvases(shot: Shot, progress: Progress | None = None, only: list[int] | None = None) -> list[Path]:
    """Paint (or find in the cache) every canvas of the cut's background, or only the canvases ``only`` lists
    (0-based: the keyframes of ``paint_every``); returns the cached files of all canvases in order (those not
    painted need not exist)."""
    module = backend(shot.spec.background.source)
    descriptions = _descriptions(module, shot)
    paths = canvas_files(shot, descriptions)
    wanted = range(len(paths)) if only is None else sorted(set(only))
    missing = [i for i in wanted if not paths[i].is_file()]
    for folder in {paths[i].parent for i in missing}:
        remove_stale_temp_files(folder)
    for done, (i, canvas) in enumerate(zip(missing, _paint_frames(module, shot, missing, progress)), 1):
        if canvas.shape[:2] != (shot.canvas[1], shot.canvas[0]):
            raise SpecError(
                f"{shot.display}: background: the {shot.spec.background.source} backend made a "
                f"{canvas.shape[1]}x{canvas.shape[0]} canvas, but the cut asks for {shot.canvas[0]}x{shot.canvas[1]}"
            )
        write_image(paths[i], canvas, alpha=_transparent(canvas), depth=int(descriptions[i].get("depth", 8)))
        provenance = {"cut": shot.name, "index": i, **descriptions[i]}
        write_bytes_atomic(paths[i].with_suffix(".json"), json.dumps(provenance, indent=2, default=str).encode())
        if progress:
            progress(f"{shot.name}: background", done, len(missing))
    return paths


def _transparent(canvas: np.ndarray) -> bool:
    """Whether a canvas has any transparency to keep (a plate of a cut with ``[output] alpha``): then it is
    written as RGBA; an opaque one as RGB, as always."""
    return canvas.dtype != np.uint8 and bool(canvas[:, :, 3].min() < 1.0)


def _depth(shot: Shot) -> int:
    """Bits a sample of the cut's canvases: 16 for a plate of a cut whose frames are deeper than 8 bits
    (``[output] frames``), so that a 16-bit or EXR plate reaches them; else 8 (painted backgrounds are
    cached once for every cut, at 8 bits)."""
    return 16 if shot.spec.background.source == "plate" and shot.output.frames != "png8" else 8


def _place(src: Path, dst: Path) -> None:
    """Put a cached canvas at ``dst`` without copying its bytes where the file system allows."""
    try:
        if dst.is_file() and os.path.samefile(src, dst):
            return
    except OSError:
        pass
    copy_file_atomic(src, dst, link=True)


def load_retouch(shot: Shot) -> np.ndarray | None:
    path = shot.files.get("background.retouch")
    if path is None:
        return None
    retouch = read_input_image(path, f"{shot.display}: background.retouch", shot.production.rel(path))
    if retouch.shape[:2] != (shot.canvas[1], shot.canvas[0]):
        raise SpecError(
            f"{shot.display}: background.retouch: {retouch.shape[1]}x{retouch.shape[0]} paint-over, "
            f"but the canvas is {shot.canvas[0]}x{shot.canvas[1]} (paint over `compositor bg {shot.name} --export`)"
        )
    return retouch


def _with_retouch(canvas: np.ndarray, retouch: np.ndarray | None) -> np.ndarray:
    if retouch is None:
        return canvas
    from compositor.core.ops import over  # noqa: PLC0415

    return over(canvas, retouch)


def build_background(
    shot: Shot,
    progress: Progress | None = None,
    key: str | None = None,
    canvas_keys: list[str] | None = None,
    steady: SteadyRunner | None = None,
) -> dict[str, Any]:
    """Make ``render/<cut>/bg/``: the canvases with their retouch, steadied when ``[temporal]`` asks; returns
    the manifest ``bg.json`` (written last, so make never takes a half-built background for done)."""
    if key is None or canvas_keys is None:
        key, canvas_keys = background_key(shot)
    paths = shot.paths
    painted = keyframes(shot)
    sources = cached_canvases(shot, progress, painted)
    ensure_folder(paths.bg_folder)
    remove_stale_temp_files(paths.bg_folder)
    remove_file(paths.bg_manifest)
    retouch = load_retouch(shot)
    if _steadied(shot) and len(sources) > 1:
        if steady is not None:
            steady(shot, sources, progress, painted)
        else:
            _steady(shot, sources, retouch, progress, painted)
    else:
        remove_file(shot.paths.qc)
        for i, src in enumerate(sources):
            if retouch is None:
                _place(src, paths.bg_frame(i))
            else:
                canvas = _with_retouch(read_image(src), retouch)
                write_image(paths.bg_frame(i), canvas, alpha=_transparent(canvas), depth=_depth(shot))
    for index, stale in paths.bg_frames().items():
        if index >= len(sources):
            remove_file(stale)
    manifest = {
        "cut": shot.name,
        "key": key,
        "frames": len(sources),
        "canvas": list(shot.canvas),
        "canvases": canvas_keys,
    }
    if painted is not None:  # keyframe stylisation: the canvases painted (0-based); the others were carried
        manifest["painted"] = painted
    write_bytes_atomic(paths.bg_manifest, json.dumps(manifest, indent=2).encode())
    return manifest


def _guide_source(shot: Shot, count: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Frames whose motion is trustworthy: ``temporal.guide``, else the plate un-stylised, fitted to the canvas;
    those of canvases ``start`` to ``stop`` (default: to ``count``) of the ``count``."""
    from compositor.backgrounds.plate import fit_to_canvas  # noqa: PLC0415

    guide_path, key = _guide_path(shot)
    if guide_path is None:
        raise SpecError(
            f"{shot.display}: temporal.guide: a temporal pass needs a guide with trustworthy motion "
            "(set temporal.guide, or use a plate)"
        )
    source = FrameSource(
        guide_path, f"{shot.display}: {key}", shot.production.rel, hold_missing=shot.spec.background.hold_missing
    )
    if not source.still and len(source) < count:  # a still image stands for a locked-off camera, as in deflicker
        raise SpecError(f"{shot.display}: {key}: {len(source)} frames, but the background has {count}")
    stop = count if stop is None else stop
    for frame in source.frames(start, stop - start):
        yield fit_to_canvas(frame, shot.canvas)


def keyframes(shot: Shot) -> list[int] | None:
    """The canvases (0-based) to paint under ``[temporal] paint_every`` (every Nth from the last painted, the last,
    and the first after a change of scene, from the guide's flow: ``temporal.keyframes.frames_to_paint``), or None when every canvas
    is painted (no ``paint_every``, no temporal pass, or a single canvas). A function of the temporal settings
    and the guide's frames, which the background key holds: the key decides the list too."""
    temporal = shot.spec.temporal
    if not _steadied(shot) or temporal is None or temporal.paint_every <= 0:
        return None
    count = backend(shot.spec.background.source).frame_count(shot)
    if count <= 1:
        return None
    from compositor.temporal.keyframes import frames_to_paint  # noqa: PLC0415 (OpenCV flow, only when asked)

    return frames_to_paint(_guide_source(shot, count), temporal.settings())


def _steady(
    shot: Shot,
    sources: list[Path],
    retouch: np.ndarray | None,
    progress: Progress | None,
    painted: list[int] | None = None,
) -> TemporalQC:
    """Run the temporal pass over the cut's canvases (in order: it is recursive), measuring it on the way;
    ``painted``: under ``paint_every``, the keyframes (``keyframes``), the only canvases painted."""
    from compositor.temporal import deflicker  # noqa: PLC0415 (OpenCV flow, only when asked)

    temporal = shot.spec.temporal
    assert temporal is not None
    measured: dict[str, Any] = {}
    settings = temporal.settings()
    if settings.paint_every:  # keyframe stylisation: only the keyframes were painted, carried along the flow
        from compositor.temporal.keyframes import carry_paint  # noqa: PLC0415

        keys = painted if painted is not None else keyframes(shot)
        assert keys is not None
        steadied = carry_paint(lambda k: read_image(sources[k]), keys, _guide_source(shot, len(sources)), settings)
        measured["frames"] = len(sources)
    else:
        inputs = (read_image(p) for p in sources)
        steadied = deflicker(inputs, _guide_source(shot, len(sources)), settings, qc=measured)
    for i, frame in enumerate(steadied):
        write_steadied(shot, i, frame, retouch)
        if progress:
            progress(f"{shot.name}: temporal pass", i + 1, len(sources))
    return write_qc(shot, measured)


def write_steadied(shot: Shot, index: int, frame: np.ndarray, retouch: np.ndarray | None) -> None:
    """``bg.NNNN.png`` of canvas ``index`` from the temporal pass's output (the retouch laid on top)."""
    # render/<cut>/bg/ is an intermediate read once by the compositor: stored PNG writes ~10x faster
    canvas = _with_retouch(frame, retouch)
    write_image(shot.paths.bg_frame(index), canvas, alpha=_transparent(canvas), compress=False, depth=_depth(shot))


def write_qc(shot: Shot, measured: dict[str, Any]) -> TemporalQC:
    """``qc.json``: the temporal pass's measurements (``measure``'s figures) and settings."""
    temporal = shot.spec.temporal
    assert temporal is not None
    qc = TemporalQC(
        **{k: v for k, v in measured.items() if k in TemporalQC.model_fields},
        method=temporal.method,
        strength=temporal.strength,
        flow=temporal.flow,
        detail=temporal.detail,
        margin=temporal.margin,
    )
    record = QCRecord(cut=shot.name, temporal=qc)
    write_bytes_atomic(shot.paths.qc, record.model_dump_json(indent=2).encode())
    return qc


def read_qc(shot: Shot) -> QCRecord | None:
    """The cut's QC record, or None when its background had no temporal pass."""
    try:
        return QCRecord.model_validate_json(shot.paths.qc.read_bytes())
    except (OSError, ValueError):
        return None


def export_background(shot: Shot, dest: Path) -> list[Path]:
    """Write the generated canvases (without retouch) where an artist can paint over them (each under a
    temporary name, renamed when complete: an artist's folder never holds half a file)."""
    sources = cached_canvases(shot)
    ensure_folder(dest)
    remove_stale_temp_files(dest)
    out = []
    for i, src in enumerate(sources):
        target = dest / (f"{shot.name}_bg.png" if len(sources) == 1 else f"{shot.name}_bg.{i + 1:04d}.png")
        copy_file_atomic(src, target)
        out.append(target)
    return out
