"""Keyframe stylisation saves the painting: with ``[temporal] paint_every`` a per-frame painter (the plate's
``stylize`` here; the diffusion backend's ``per_frame`` goes through the same step) paints only the keyframes,
the frames between are carried from both neighbours, and the manifest says which frames were painted."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

import compositor
from compositor.core.io import read_image
from compositor.core.stylize import stylize
from compositor.layout import cache_root
from compositor.steps.background import background_key, ensure_background, is_fresh, read_manifest

SIZE = (48, 32)

STYLISED = """
[shot]
frames = 9

[background]
source = "plate"
plate = "plates/bg.%04d.png"
stylize = "paint"

[temporal]
paint_every = {every}
"""


def _painted(root: Path, cut: str) -> list[int]:
    """The canvases the painter made for ``cut``, by the provenance the cache keeps beside each."""
    found = [json.loads(p.read_text()) for p in cache_root(root).glob("*/*.json")]
    return sorted(p["index"] for p in found if p["cut"] == cut)


def _plate(root: Path, cut: str, frames: int) -> np.ndarray:
    """A still camera: every plate file the same textured picture."""
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE[1], SIZE[0], 3)).astype(np.float32), (0, 0), 2)
    img = np.clip(img * 2 - 128, 0, 255).astype(np.uint8)
    for i in range(1, frames + 1):
        path = root / f"shots/{cut}/plates/bg.{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), img)
    return img


def test_only_keyframes_are_painted_and_a_still_scene_is_their_exact_blend(production_factory) -> None:
    root = production_factory(
        {"sc010_c010": STYLISED.format(every=4), "sc010_c020": STYLISED.format(every=4)}, size=SIZE
    )
    for cut in ("sc010_c010", "sc010_c020"):
        _plate(root, cut, 9)
    prod = compositor.load(root)
    shot = compositor.cut(prod, "sc010_c010")
    manifest = ensure_background(shot)
    # The painter ran on the keyframes only (every 4th and the last), and the manifest says so.
    assert _painted(root, "sc010_c010") == [0, 4, 8]
    assert manifest["painted"] == [0, 4, 8]
    frames = [read_image(shot.paths.bg_frame(i)) for i in range(9)]
    plate = read_image(root / "shots/sc010_c010/plates/bg.0001.png")
    paint = {k: stylize(plate, "paint", k) for k in (0, 4, 8)}
    for k, p in paint.items():  # a keyframe is its paint
        assert np.abs(frames[k] - p).max() <= 1 / 255 + 1e-6
    assert np.abs(paint[0] - paint[4]).max() > 20 / 255  # the painter flickers: a carried frame must choose
    # Nothing moves: a frame between is its two keyframes' paint mixed by nearness, to the 8-bit step.
    for t in (1, 2, 3, 5, 6, 7):
        a, b = (0, 4) if t < 4 else (4, 8)
        expected = ((b - t) * frames[a] + (t - a) * frames[b]) / (b - a)
        assert np.abs(frames[t] - expected).max() <= 1 / 255 + 1e-6, t

    # Painting twice as often: the new keyframes alone are painted (the old ones are in the cache), and the
    # other cut, which did not change, stays fresh.
    other = compositor.cut(prod, "sc010_c020")
    ensure_background(other)
    (root / "shots/sc010_c010/shot.toml").write_text(STYLISED.format(every=2))
    prod = compositor.load(root)
    shot = compositor.cut(prod, "sc010_c010")
    assert not is_fresh(shot, read_manifest(shot), background_key(shot)[0])
    assert ensure_background(shot)["painted"] == [0, 2, 4, 6, 8]
    assert _painted(root, "sc010_c010") == [0, 2, 4, 6, 8]
    other = compositor.cut(prod, "sc010_c020")
    assert is_fresh(other, read_manifest(other), background_key(other)[0])


def test_without_paint_every_every_frame_is_painted(production_factory) -> None:
    root = production_factory({"sc010_c010": STYLISED.format(every=0)}, size=SIZE)
    _plate(root, "sc010_c010", 9)
    shot = compositor.cut(compositor.load(root), "sc010_c010")
    manifest = ensure_background(shot)
    assert _painted(root, "sc010_c010") == list(range(9))
    assert "painted" not in manifest


def test_keyframes_of_keyframe_interval_are_painted_too() -> None:
    """The pass does not cross a ``keyframe_interval`` keyframe, so it must have its paint."""
    from compositor.temporal import TemporalSettings
    from compositor.temporal.keyframes import carry_paint, frames_to_paint

    rng = np.random.default_rng(2)
    texture = cv2.GaussianBlur(rng.uniform(0, 1, (24, 60, 3)).astype(np.float32), (0, 0), 2)
    guide = [np.dstack([texture[:, i : i + 40], np.ones((24, 40, 1), np.float32)]) for i in range(10)]
    settings = TemporalSettings(paint_every=4, keyframe_interval=3, flow_scale=1.0)
    keys = frames_to_paint(guide, settings)
    # paint_every counts from the last frame painted: the keyframes of keyframe_interval leave no frame 4 away.
    assert keys == [0, 3, 6, 9]
    paint = {k: np.clip(guide[k] + np.float32(0.05 * (k % 2)), 0, 1) for k in keys}
    out = list(carry_paint(paint, keys, guide, settings))
    assert len(out) == 10 and all(np.array_equal(out[k], paint[k]) for k in keys)
