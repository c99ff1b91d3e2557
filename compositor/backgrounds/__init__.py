"""Backgrounds: one backend per ``[background] source``, registered by import path and loaded only when used.

Every backend module has three functions, given a validated ``Shot``:

* ``frame_count(shot) -> int``: 1 for one still canvas behind the whole cut, else one canvas per frame;
* ``describe(shot, index) -> dict``: everything that changes the pixels of canvas ``index`` (JSON-able);
* ``paint(shot, index, progress=None) -> ndarray``: the canvas, premultiplied float32 RGBA ``(H, W, 4)``.

A backend may also offer ``paint_frames(shot, indices, progress=None)`` to stream many canvases at once (a video
plate reads faster in order than by seeking). The background step (``build_background``) caches each canvas
under ``render/cache/`` by the hash of its description, lays the retouch paint-over on top, runs the temporal
pass when the cut asks for it, and writes ``render/<cut>/bg/``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from compositor.errors import BackendMissingError, SpecError
from compositor.core.io import FrameSource, read_image, write_bytes_atomic, write_image
from compositor.spec import Shot

BACKENDS: dict[str, tuple[str, str]] = {
    "procedural": ("compositor.backgrounds.procedural", "compositor"),
    "plate": ("compositor.backgrounds.plate", "compositor"),
    "diffusion": ("compositor.backgrounds.diffusion", "compositor[diffusion]"),
}
"""source name → (module import path, what to ``pip install`` if it is missing)."""

Progress = Callable[[str, int, int], None]

BG_MANIFEST = "bg.json"


def backend(source: str) -> ModuleType:
    try:
        module_path, extra = BACKENDS[source]
    except KeyError:
        raise SpecError(f"no background source {source!r} (have: {', '.join(BACKENDS)})") from None
    try:
        return importlib.import_module(module_path)
    except ImportError as e:
        raise BackendMissingError(
            f"background source {source!r} needs {e.name or 'a missing package'}: pip install '{extra}'"
        ) from None


def content_key(description: dict[str, Any]) -> str:
    """The cache key of a canvas: a hash of its description (sorted keys, so the order never matters)."""
    blob = json.dumps(description, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def cache_dir(shot: Shot) -> Path:
    return shot.production.render / "cache"


def _paint_frames(module: ModuleType, shot: Shot, indices: list[int], progress: Progress | None) -> Iterator[np.ndarray]:
    if hasattr(module, "paint_frames"):
        yield from module.paint_frames(shot, indices, progress)
    else:
        for i in indices:
            yield module.paint(shot, i, progress)


def cached_canvases(shot: Shot, progress: Progress | None = None) -> list[Path]:
    """Paint (or find in the cache) every canvas of the cut's background; returns the cached files in order."""
    module = backend(shot.spec.background.source)
    count = module.frame_count(shot)
    cache = cache_dir(shot)
    paths, missing, descriptions = [], [], {}
    for i in range(count):
        description = module.describe(shot, i)
        key = content_key(description)
        path = cache / key[:2] / f"{key}.png"
        paths.append(path)
        if not path.is_file():
            missing.append(i)
            descriptions[i] = description
    if missing:
        for i, canvas in zip(missing, _paint_frames(module, shot, missing, progress)):
            if canvas.shape[:2] != (shot.canvas[1], shot.canvas[0]):
                raise SpecError(
                    f"{shot.display}: background: the {shot.spec.background.source} backend made a "
                    f"{canvas.shape[1]}x{canvas.shape[0]} canvas, but the cut asks for {shot.canvas[0]}x{shot.canvas[1]}"
                )
            write_image(paths[i], canvas)
            provenance = {"cut": shot.name, "index": i, **descriptions[i]}
            write_bytes_atomic(paths[i].with_suffix(".json"), json.dumps(provenance, indent=2, default=str).encode())
            if progress:
                progress(f"{shot.name}: background", missing.index(i) + 1, len(missing))
    return paths


def _place(src: Path, dst: Path) -> None:
    """Put a cached canvas at ``dst`` without copying its bytes where the file system allows."""
    tmp = dst.with_name(f".{dst.name}.part{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _with_retouch(canvas: np.ndarray, retouch: np.ndarray | None) -> np.ndarray:
    if retouch is None:
        return canvas
    from compositor.core.ops import over  # noqa: PLC0415

    return over(canvas, retouch)


def load_retouch(shot: Shot) -> np.ndarray | None:
    path = shot.files.get("background.retouch")
    if path is None:
        return None
    retouch = read_image(path)
    if retouch.shape[:2] != (shot.canvas[1], shot.canvas[0]):
        raise SpecError(
            f"{shot.display}: background.retouch: {retouch.shape[1]}x{retouch.shape[0]} paint-over, "
            f"but the canvas is {shot.canvas[0]}x{shot.canvas[1]} (paint over `compositor bg {shot.name} --export`)"
        )
    return retouch


def bg_folder(shot: Shot) -> Path:
    return shot.out / "bg"


def bg_frame_path(shot: Shot, index: int) -> Path:
    return bg_folder(shot) / f"bg.{index + 1:04d}.png"


def read_manifest(shot: Shot) -> dict[str, Any]:
    path = bg_folder(shot) / BG_MANIFEST
    if not path.is_file():
        raise SpecError(f"{shot.display}: background: not built yet (run `compositor bg {shot.name}`)")
    return json.loads(path.read_text())


def build_background(shot: Shot, progress: Progress | None = None) -> Path:
    """Make ``render/<cut>/bg/``: the canvases with their retouch, steadied when ``[temporal]`` asks; returns
    the manifest ``bg.json`` (written last, so make never takes a half-built background for done)."""
    sources = cached_canvases(shot, progress)
    folder = bg_folder(shot)
    folder.mkdir(parents=True, exist_ok=True)
    retouch = load_retouch(shot)
    temporal = shot.spec.temporal
    steady = temporal is not None and temporal.method != "none" and len(sources) > 1
    qc: dict[str, Any] | None = None
    if steady:
        qc = _steady(shot, sources, retouch, progress)
    else:
        for i, src in enumerate(sources):
            dst = bg_frame_path(shot, i)
            if retouch is None:
                _place(src, dst)
            else:
                write_image(dst, _with_retouch(read_image(src), retouch))
    for stale in folder.glob("bg.*.png"):
        number = stale.name.split(".")[1]
        if number.isdigit() and int(number) > len(sources):
            stale.unlink()
    manifest = {
        "cut": shot.name,
        "frames": len(sources),
        "canvas": list(shot.canvas),
        "sources": [p.stem for p in sources],
        "retouch": file_digest(shot.files["background.retouch"]) if retouch is not None else None,
    }
    if qc is not None:
        manifest["qc"] = qc
    path = folder / BG_MANIFEST
    write_bytes_atomic(path, json.dumps(manifest, indent=2).encode())
    return path


def _guide_source(shot: Shot, count: int) -> Iterator[np.ndarray]:
    """Frames whose motion is trustworthy: ``temporal.guide``, else the plate un-stylised, fitted to the canvas."""
    from compositor.backgrounds.plate import fit_to_canvas  # noqa: PLC0415

    temporal = shot.spec.temporal
    guide_path = shot.files.get("temporal.guide") or shot.files.get("background.plate")
    if guide_path is None:
        raise SpecError(
            f"{shot.display}: temporal.guide: a temporal pass needs a guide with trustworthy motion "
            "(set temporal.guide, or use a plate)"
        )
    source = FrameSource(guide_path, f"{shot.display}: {'temporal.guide' if temporal and temporal.guide else 'background.plate'}")
    if len(source) < count:
        raise SpecError(f"{shot.display}: temporal.guide: {len(source)} frames, but the background has {count}")
    for frame in source.frames(0, count):
        yield fit_to_canvas(frame, shot.canvas)


def _steady(shot: Shot, sources: list[Path], retouch: np.ndarray | None, progress: Progress | None) -> dict[str, Any]:
    """Run the temporal pass over the cut's canvases (in order: it is recursive), measuring it on the way."""
    import time  # noqa: PLC0415

    from compositor.temporal import TemporalSettings, deflicker  # noqa: PLC0415 (OpenCV flow, only when asked)

    temporal = shot.spec.temporal
    assert temporal is not None
    settings = TemporalSettings(
        strength=temporal.strength,
        flow=temporal.flow,
        flow_scale=temporal.flow_scale,
        detail=temporal.detail,
        keyframe_interval=temporal.keyframe_interval,
    )
    started = time.perf_counter()
    qc: dict[str, Any] = {}
    inputs = (read_image(p) for p in sources)
    for i, frame in enumerate(deflicker(inputs, _guide_source(shot, len(sources)), settings, qc=qc)):
        # render/<cut>/bg/ is an intermediate read once by the compositor: stored PNG writes ~10x faster
        write_image(bg_frame_path(shot, i), _with_retouch(frame, retouch), compress=False)
        if progress:
            progress(f"{shot.name}: temporal pass", i + 1, len(sources))
    qc.update(
        pass_seconds=round(time.perf_counter() - started, 3),
        method=temporal.method,
        strength=temporal.strength,
        flow=temporal.flow,
        detail=temporal.detail,
    )
    write_bytes_atomic(shot.out / "qc.json", json.dumps({"cut": shot.name, "temporal": qc}, indent=2).encode())
    return qc


def background_frames(shot: Shot, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Stream the built background canvases for frames ``start .. start+count`` (0-based) of the cut.

    A still background is decoded once and repeated.
    """
    manifest = read_manifest(shot)
    count = shot.frames - start if count is None else count
    n = manifest["frames"]
    if n == 1:
        canvas = read_image(bg_frame_path(shot, 0))
        for _ in range(count):
            yield canvas
        return
    if n < shot.frames:
        raise SpecError(f"{shot.display}: background: {n} frames, but the cut is {shot.frames}")
    for i in range(start, start + count):
        yield read_image(bg_frame_path(shot, i))


def export_background(shot: Shot, dest: Path) -> list[Path]:
    """Write the generated canvases (without retouch) where an artist can paint over them."""
    sources = cached_canvases(shot)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i, src in enumerate(sources):
        target = dest / (f"{shot.name}_bg.png" if len(sources) == 1 else f"{shot.name}_bg.{i + 1:04d}.png")
        shutil.copyfile(src, target)
        out.append(target)
    return out
