"""Backgrounds: one backend per ``[background] source``, registered by import path and loaded only when used.

Every backend module has three functions, given a validated ``Shot``:

* ``frame_count(shot) -> int``: 1 for one still canvas behind the whole cut, else one canvas per frame;
* ``describe(shot, index) -> dict``: everything that changes the pixels of canvas ``index`` (JSON-able);
* ``paint(shot, index, progress=None) -> ndarray``: the canvas, premultiplied float32 RGBA ``(H, W, 4)``.

A backend may also offer ``paint_frames(shot, indices, progress=None)`` to stream many canvases at once (a video
plate reads faster in order than by seeking). The background step (``compositor.steps.background``) caches each
canvas under ``render/cache/`` by the key of its description, lays the retouch paint-over on top, runs the
temporal pass when the cut asks for it, and writes ``render/<cut>/bg/``.

To add a background source: write a module with those functions and register it in ``BACKENDS`` below (and
in the ``source`` choices of ``compositor.spec.models.BackgroundSection``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from compositor.errors import BackendMissingError, SpecError

BACKENDS: dict[str, tuple[str, str]] = {
    "procedural": ("compositor.backgrounds.procedural", "compositor"),
    "plate": ("compositor.backgrounds.plate", "compositor"),
    "diffusion": ("compositor.backgrounds.diffusion", "compositor[diffusion]"),
}
"""source name → (module import path, what to ``pip install`` if it is missing)."""

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


