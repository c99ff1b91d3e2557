"""The procedural painter: deterministic, seeded, any canvas size, styles checked with file and key."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from compositor.backgrounds import procedural
from compositor.backgrounds.procedural import ProceduralStyle, paint_canvas
from compositor.errors import SpecError
from compositor.spec import Production, StyleSpec, load_shot, parse_model, read_toml


def load_style_file(path: Path, display: str | None = None) -> ProceduralStyle:
    """Read a style template, validate all of it, and keep its ``[procedural]`` table."""
    display = display or str(path)
    return parse_model(StyleSpec, read_toml(path, display), display).procedural


STYLES = sorted((Path(__file__).resolve().parents[1] / "templates" / "styles").glob("*.toml"))
DUSK = load_style_file(Path(__file__).resolve().parents[1] / "templates" / "styles" / "dusk.toml")


def _check_frame(img: np.ndarray, width: int, height: int) -> None:
    assert img.shape == (height, width, 4)
    assert img.dtype == np.float32
    assert np.isfinite(img).all()
    assert img.min() >= 0.0 and img.max() <= 1.0
    assert (img[:, :, 3] == 1.0).all()


def _shot(
    production_factory,
    style: str = "dusk",
    animate: bool = False,
    frames: int = 4,
    seed: int = 7,
    canvas: tuple[int, int] = (192, 108),
):
    text = f"""
    [shot]
    frames = {frames}
    size = [{canvas[0]}, {canvas[1]}]
    [background]
    source = "procedural"
    style = "{style}"
    seed = {seed}
    animate = {"true" if animate else "false"}
    """
    root = production_factory({"sc010_c010": text})
    return load_shot(Production(root), "sc010_c010")


def test_same_seed_gives_identical_pixels():
    a = paint_canvas(256, 144, DUSK, seed=42)
    b = paint_canvas(256, 144, DUSK, seed=42)
    assert np.array_equal(a, b)


def test_different_seeds_give_different_scenery():
    a = paint_canvas(256, 144, DUSK, seed=1)
    b = paint_canvas(256, 144, DUSK, seed=2)
    assert float(np.abs(a - b).mean()) > 0.01


def test_pixels_do_not_depend_on_the_thread_count():
    night = load_style_file(Path(__file__).resolve().parents[1] / "templates" / "styles" / "night.toml")
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        one = paint_canvas(320, 180, night, seed=5)
    finally:
        cv2.setNumThreads(threads)
    assert np.array_equal(one, paint_canvas(320, 180, night, seed=5))


@pytest.mark.parametrize("width,height", [(1, 1), (7, 5), (33, 17), (64, 200), (257, 143), (321, 101)])
def test_any_canvas_size_gives_opaque_float_rgba(width, height):
    _check_frame(paint_canvas(width, height, DUSK, seed=3), width, height)


@pytest.mark.parametrize("path", STYLES, ids=[p.stem for p in STYLES])
def test_every_style_template_loads_and_paints(path):
    style = load_style_file(path)
    img = paint_canvas(240, 135, style, seed=11)
    _check_frame(img, 240, 135)
    assert float(img[:, :, :3].std()) > 0.03  # a picture, not a flat fill


def test_there_are_at_least_four_styles_with_prompts():
    assert {"dusk", "noon", "night", "town"} <= {p.stem for p in STYLES}
    import tomllib

    for path in STYLES:
        data = tomllib.loads(path.read_text())
        assert isinstance(data.get("description"), str) and data["description"]
        assert all(isinstance(data["prompt"][k], str) for k in ("prefix", "suffix", "negative"))


def test_a_wide_canvas_has_new_scenery_along_its_width():
    img = paint_canvas(960, 180, DUSK, seed=9)
    third = 960 // 3
    left, right = img[:, :third], img[:, 2 * third : 3 * third]
    assert float(np.abs(left - right).mean()) > 0.02
    # Not a narrow painting stretched wide: features keep their size in pixels.
    narrow = paint_canvas(320, 180, DUSK, seed=9)
    stretched = cv2.resize(narrow, (960, 180), interpolation=cv2.INTER_LINEAR)
    assert float(np.abs(img - stretched).mean()) > 0.02


def test_a_taller_canvas_of_the_same_shape_paints_the_same_scene():
    small = paint_canvas(320, 180, DUSK, seed=4)
    big = paint_canvas(640, 360, DUSK, seed=4)
    shrunk = cv2.resize(big, (320, 180), interpolation=cv2.INTER_AREA)
    assert float(np.abs(small - shrunk).mean()) < 0.03


def test_unknown_style_key_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "templates" / "styles" / "dusk.toml"
    path.parent.mkdir(parents=True)
    path.write_text('description = "x"\n[procedural]\nclouds = 0.4\ncloud_amount = 0.3\n')
    with pytest.raises(SpecError) as e:
        load_style_file(path, "templates/styles/dusk.toml")
    assert (
        str(e.value)
        == "templates/styles/dusk.toml: procedural.cloud_amount: unknown key (check its spelling)"
    )


def test_bad_style_values_are_reported_together_with_their_key_paths():
    with pytest.raises(SpecError) as e:
        parse_model(
            StyleSpec,
            {"procedural": {"clouds": "lots", "sky": ["#112233", "blue"], "terrain": "moon"}},
            "templates/styles/x.toml",
        )
    lines = str(e.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("templates/styles/x.toml: procedural.")
    assert any(
        line.startswith("templates/styles/x.toml: procedural.clouds: Input should be") for line in lines
    )
    assert (
        "templates/styles/x.toml: procedural.sky[1]: expected a colour like \"#87ceeb\", got 'blue'" in lines
    )
    assert any(
        line.startswith("templates/styles/x.toml: procedural.terrain: Input should be") for line in lines
    )


def test_every_key_has_a_default_and_the_style_is_frozen():
    style = parse_model(StyleSpec, {}, "x.toml").procedural
    assert style == ProceduralStyle()
    with pytest.raises(ValidationError):
        style.clouds = 0.9  # type: ignore[misc]


def test_a_cut_with_a_bad_style_reports_the_style_file(production_factory):
    shot = _shot(production_factory)
    style = shot.style_path
    style.write_text(style.read_text().replace("clouds = 0.55", "clouds = 1.5"))
    # The style is validated when the cut is loaded, before anything is painted.
    with pytest.raises(SpecError, match=r"^templates/styles/dusk.toml: procedural.clouds: Input should be"):
        load_shot(shot.production, shot.name)


def test_a_still_background_is_one_canvas(production_factory):
    shot = _shot(production_factory, frames=6)
    assert procedural.frame_count(shot) == 1
    description = procedural.describe(shot, 0)
    json.dumps(description)
    assert description["painter"] == procedural.PAINTER_VERSION
    assert description["seed"] == 7 and description["canvas"] == [192, 108]
    assert "time" not in description
    img = procedural.paint(shot, 0, progress=None)
    _check_frame(img, 192, 108)
    assert np.array_equal(img, paint_canvas(192, 108, shot.style.procedural, 7))
    with pytest.raises(IndexError):
        procedural.describe(shot, 1)


def test_the_description_changes_with_what_changes_the_pixels(production_factory):
    base = procedural.describe(_shot(production_factory), 0)
    assert procedural.describe(_shot(production_factory), 0) == base
    reseeded = procedural.describe(_shot(production_factory, seed=8), 0)
    assert {k for k in base if base[k] != reseeded[k]} == {"seed"}
    resized = procedural.describe(_shot(production_factory, canvas=(256, 108)), 0)
    assert {k for k in base if base[k] != resized[k]} == {"canvas"}
    restyled = procedural.describe(_shot(production_factory, style="noon"), 0)
    assert restyled["style"] != base["style"]


def test_animated_clouds_drift_slowly_and_smoothly(production_factory):
    shot = _shot(production_factory, style="noon", animate=True, frames=5)
    assert procedural.frame_count(shot) == 5
    descriptions = [procedural.describe(shot, i) for i in range(5)]
    assert [d["time"] for d in descriptions] == [i / shot.fps for i in range(5)]
    assert len({json.dumps(d, sort_keys=True) for d in descriptions}) == 5
    frames = [procedural.paint(shot, i) for i in range(5)]
    steps = [float(np.abs(frames[i + 1] - frames[i]).mean()) for i in range(4)]
    assert all(0 < step < 0.003 for step in steps)
    # Smooth: the change over four frames is about four single steps, not a jump.
    assert float(np.abs(frames[4] - frames[0]).mean()) < 6 * max(steps)
