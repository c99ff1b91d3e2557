"""Spec validation: every problem reported at once, one line each, with the file and the key path."""

import subprocess
import sys

import pytest

from compositor.errors import MissingInputError, ProductionPathError, SpecError
from compositor.spec import Production, load_shot
from compositor.validate import validate_production
from tests.conftest import write_grid

GOOD = """
[shot]
frames = 4
[background]
source = "procedural"
style = "dusk"
[[layers]]
name = "A"
cels = "cels/A"
timing = "1 . 2 x"
"""


def _prod(production_factory, text=GOOD):
    root = production_factory({"sc010_c010": text})
    write_grid(root / "shots/sc010_c010/cels/A/A_0001.png", "R.\n.R")
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "G.\n.G")
    return Production(root)


def test_good_spec_loads(production_factory):
    prod = _prod(production_factory)
    shot = load_shot(prod, "sc010_c010")
    assert shot.frames == 4 and shot.size == (32, 24) and shot.fps == 24
    assert shot.canvas == shot.size
    assert validate_production(prod) == []


def test_every_problem_at_once_with_file_and_key(production_factory):
    bad = GOOD.replace('timing = "1 . 2 x"', 'timing = "1 . 2 x 3"\nopacty = 0.5').replace(
        'style = "dusk"', 'style = "dusk"\ncanvas = [16, 24]'
    )
    bad = bad.replace("frames = 4", "frames = 4\nfsp = 25")
    prod = _prod(production_factory, bad)
    with pytest.raises(SpecError) as e:
        load_shot(prod, "sc010_c010")
    lines = str(e.value).splitlines()
    assert "shots/sc010_c010/shot.toml: shot.fsp: unknown key (check its spelling)" in lines
    assert "shots/sc010_c010/shot.toml: layers[0].opacty: unknown key (check its spelling)" in lines


def test_semantic_problems_are_listed_together(production_factory):
    bad = GOOD.replace('timing = "1 . 2 x"', 'timing = "1 . 2 x 3"').replace(
        'style = "dusk"', 'style = "dusk"\ncanvas = [16, 24]'
    )
    prod = _prod(production_factory, bad)
    with pytest.raises(SpecError) as e:
        load_shot(prod, "sc010_c010")
    lines = str(e.value).splitlines()
    assert "shots/sc010_c010/shot.toml: layers[0].timing: 5 frames, but the cut is 4" in lines
    assert "shots/sc010_c010/shot.toml: background.canvas: width 16 is smaller than the frame's 32" in lines


def test_missing_drawing_names_layer_frame_and_folder(production_factory):
    prod = _prod(production_factory, GOOD.replace('"1 . 2 x"', '"1 . 7 x"'))
    problems = validate_production(prod)
    assert problems == [
        "shots/sc010_c010/shot.toml: layers[0].timing: layer 'A', frame 3: drawing 7 has no file in "
        "shots/sc010_c010/cels/A"
    ]


def test_path_outside_the_production_is_refused(production_factory):
    prod = _prod(production_factory, GOOD.replace('cels = "cels/A"', 'cels = "../../../etc"'))
    with pytest.raises(SpecError, match=r"layers\[0\].cels: '../../../etc' points outside the production"):
        load_shot(prod, "sc010_c010")


def test_unknown_style_lists_the_known_ones(production_factory):
    prod = _prod(production_factory, GOOD.replace('"dusk"', '"dusq"'))
    with pytest.raises(SpecError, match=r"background.style: no style 'dusq' in templates/styles/ \(have: .*dusk"):
        load_shot(prod, "sc010_c010")


def test_toml_syntax_error_is_one_line(production_factory):
    prod = _prod(production_factory, "[shot\nframes = 4")
    with pytest.raises(SpecError) as e:
        load_shot(prod, "sc010_c010")
    assert str(e.value).startswith("shots/sc010_c010/shot.toml: not valid TOML:")
    assert len(str(e.value).splitlines()) == 1


def test_plate_source_needs_a_plate(production_factory):
    prod = _prod(production_factory, GOOD.replace('source = "procedural"', 'source = "plate"'))
    with pytest.raises(SpecError, match='background: source = "plate" needs a `plate` key'):
        load_shot(prod, "sc010_c010")


def test_error_hierarchy_resembles_builtins():
    assert issubclass(SpecError, ValueError)
    assert issubclass(MissingInputError, FileNotFoundError)
    assert issubclass(ProductionPathError, PermissionError)


def test_cli_validate_reports_one_line_per_problem_and_exit_1(production_factory):
    prod = _prod(production_factory, GOOD.replace('"1 . 2 x"', '"1 . 7 x 2"').replace("frames = 4", "frames = 4\nfsp = 1"))
    run = subprocess.run(
        [sys.executable, "-m", "compositor", "validate"], cwd=prod.root, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == ["error: shots/sc010_c010/shot.toml: shot.fsp: unknown key (check its spelling)"]


def test_cli_bad_usage_exits_2(production_factory):
    prod = _prod(production_factory)
    run = subprocess.run([sys.executable, "-m", "compositor", "render"], cwd=prod.root, capture_output=True, text=True)
    assert run.returncode == 2


def test_cli_new_makes_a_cut_from_the_template(production_factory):
    prod = _prod(production_factory)
    run = subprocess.run([sys.executable, "-m", "compositor", "new", "sc020_c010"], cwd=prod.root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (prod.shots / "sc020_c010" / "shot.toml").read_text() == (prod.templates / "shot.toml").read_text()
    again = subprocess.run([sys.executable, "-m", "compositor", "new", "sc020_c010"], cwd=prod.root, capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_validate_reports_a_bad_procedural_style(production_factory):
    prod = _prod(production_factory)
    style = prod.templates / "styles" / "dusk.toml"
    style.write_text(style.read_text().replace("[procedural]", "[procedural]\ncloudz = 3", 1))
    problems = validate_production(prod)
    assert problems == ["templates/styles/dusk.toml: procedural.cloudz: unknown key (check its spelling)"]
