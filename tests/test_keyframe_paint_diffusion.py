"""Keyframe stylisation with the diffusion backend's ``per_frame`` (video-to-video): img2img runs on the
keyframes only, with the tiny random models of tests/diffusion_fixtures.py."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from compositor.core.io import read_image, write_image
from compositor.layout import cache_root
from compositor.steps.background import ensure_background

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from tests.test_diffusion import make_cut, tiny  # noqa: E402, F401 (the fixtures)


def test_per_frame_diffusion_paints_only_the_keyframes(make_cut) -> None:  # noqa: F811
    from compositor.backgrounds import diffusion

    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(rng.uniform(0, 1, (64, 96, 3)).astype(np.float32), (0, 0), 3)
    texture = np.clip((texture - texture.mean()) * 6 + 0.5, 0, 1)

    def setup(folder):  # a slow pan: one picture, a pixel further each frame
        for i in range(5):
            rgb = np.ascontiguousarray(texture[:, i : i + 64])
            write_image(folder / f"bg.{i + 1:04d}.png", np.dstack([rgb, np.ones((64, 64, 1), np.float32)]))

    shot = make_cut(
        'per_frame = true\nplate = "plates/bg.%04d.png"\nseed = 4\n[temporal]\npaint_every = 2\n',
        frames=5,
        setup=setup,
    )
    manifest = ensure_background(shot)
    made = sorted(json.loads(p.read_text())["index"] for p in cache_root(shot.production.root).glob("*/*.json"))
    assert manifest["painted"] == made == [0, 2, 4]  # img2img ran three times, not five
    for k in made:  # a keyframe is its img2img, as painting every frame would make it
        assert np.abs(read_image(shot.paths.bg_frame(k)) - diffusion.paint(shot, k)).max() <= 1 / 255 + 1e-6
    between = read_image(shot.paths.bg_frame(1))
    assert between.shape == (64, 64, 4) and np.isfinite(between).all()
