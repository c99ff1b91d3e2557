"""A diffusion cut through make with a tiny local model: from a prompt, from a layout (img2img and ControlNet),
on a canvas three times the tile; cached by content so a second make, or a make after `make clean`, generates
nothing, and a changed prompt regenerates that cut only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, make_production
from tests.diffusion_fixtures import TINY_SIZE, build_tiny_model

BASE = """
[shot]
frames = 2

[background]
source = "diffusion"
style = "dusk"
prompt = "{prompt}"
seed = 5
steps = 2
{extra}
"""


def make(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.run(
        ["make", "-C", str(root), "-f", str(REPO / "Makefile"), f"VENV={REPO / '.venv'}", *args],
        capture_output=True, text=True, env=env, timeout=900,
    )


def cache_files(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (root / "render" / "cache").rglob("*.png")}


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("diffusion_make") / "prod"
    cuts = {
        "d_prompt": BASE.format(prompt="a quiet street at dusk", extra=""),
        "d_layout": BASE.format(prompt="a field", extra='layout = "plates/layout.png"\nstrength = 0.6'),
        "d_control": BASE.format(
            prompt="a wide valley",
            extra=f'layout = "plates/wide.png"\ncontrolnet = "models/tiny/controlnet"\ncanvas = [{3 * TINY_SIZE}, {TINY_SIZE}]'
            '\nretouch = "plates/retouch.png"',
        ),
    }
    make_production(
        root, cuts, size=(TINY_SIZE, TINY_SIZE), edit_extra='\n[diffusion]\nmodel = "models/tiny/sd"\ndevice = "cpu"  # describing a cached background then needs no torch import\n'
    )
    build_tiny_model(root / "models" / "tiny")
    layout = np.full((TINY_SIZE, TINY_SIZE, 3), 255, np.uint8)
    cv2.line(layout, (0, 40), (63, 30), (0, 0, 0), 2)
    (root / "shots/d_layout/plates").mkdir()
    cv2.imwrite(str(root / "shots/d_layout/plates/layout.png"), layout)
    wide = np.full((TINY_SIZE, 3 * TINY_SIZE, 3), 255, np.uint8)
    cv2.polylines(wide, [np.array([[0, 50], [60, 20], [120, 45], [191, 15]])], False, (0, 0, 0), 2)
    (root / "shots/d_control/plates").mkdir()
    cv2.imwrite(str(root / "shots/d_control/plates/wide.png"), wide)
    retouch = np.zeros((TINY_SIZE, 3 * TINY_SIZE, 4), np.uint8)
    retouch[10:20, 100:120] = (0, 0, 255, 255)  # a red patch painted by hand (BGRA)
    cv2.imwrite(str(root / "shots/d_control/plates/retouch.png"), retouch)
    run = make(root)
    assert run.returncode == 0, run.stdout + run.stderr
    return root


def test_every_diffusion_cut_renders_through_make(production):
    for cut in ("d_prompt", "d_layout", "d_control"):
        frames = sorted((production / "render" / cut / "comp").glob("*.png"))
        assert len(frames) == 2
        assert (production / "render" / cut / f"{cut}.mp4").is_file()
    assert (production / "render" / "tiny.mp4").is_file()


def test_wide_canvas_is_one_image_with_the_retouch_on_top(production):
    bg = cv2.imread(str(production / "render/d_control/bg/bg.0001.png"))
    assert bg.shape[:2] == (TINY_SIZE, 3 * TINY_SIZE)
    assert (bg[10:20, 100:120] == (0, 0, 255)).all()


def test_provenance_sits_next_to_each_generated_image(production):
    records = [json.loads(p.read_text()) for p in (production / "render" / "cache").rglob("*.json")]
    by_cut = {r["cut"]: r for r in records}
    assert set(by_cut) == {"d_prompt", "d_layout", "d_control"}
    assert by_cut["d_prompt"]["seed"] == 5
    assert "a quiet street at dusk" in json.dumps(by_cut["d_prompt"])


def test_second_make_generates_nothing_and_a_changed_prompt_regenerates_that_cut_only(production):
    assert make(production, "-q").returncode == 0
    before = cache_files(production)
    spec = production / "shots/d_prompt/shot.toml"
    spec.write_text(spec.read_text().replace("a quiet street at dusk", "a quiet street at dawn"))
    commands = [line for line in make(production, "-n").stdout.splitlines() if "compositor" in line]
    assert commands and all("d_layout" not in c and "d_control" not in c for c in commands)
    assert make(production).returncode == 0
    after = cache_files(production)
    assert len(after) == len(before) + 1
    assert all(after[name] == stamp for name, stamp in before.items())


def test_cache_survives_make_clean(production):
    before = cache_files(production)
    assert make(production, "clean").returncode == 0
    assert not (production / "render" / "d_prompt").exists()
    run = make(production)
    assert run.returncode == 0, run.stderr
    assert cache_files(production) == before


def test_export_writes_the_generated_background_for_an_artist(production):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    run = subprocess.run(
        [sys.executable, "-m", "compositor", "bg", "d_control", "--export", "paint"],
        cwd=production, capture_output=True, text=True, env=env,
    )
    assert run.returncode == 0, run.stderr
    exported = cv2.imread(str(production / "paint/d_control_bg.png"))
    assert exported.shape[:2] == (TINY_SIZE, 3 * TINY_SIZE)
    assert not (exported[10:20, 100:120] == (0, 0, 255)).all()  # without the retouch
