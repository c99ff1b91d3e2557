"""No shell or path escapes (issue "Reliability and security"): names that are not names, file names make
cannot spell, text that ffmpeg could read as syntax, paths that leave the production, render/ on another disk,
and image sequences with gaps or duplicate numbers.

Every refusal is exit status 1 and one ``error:`` line naming the file and the key, never a traceback; nothing
is written outside the production and nothing injected ever runs (it would leave a PWNED file).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import ffmpeg
import numpy as np
import pytest

from compositor.errors import SpecError
from compositor.spec import EncodePreset, Production, load_shot
from compositor.steps.encode import FONT, burn_in_font_size, draw_burn_ins, drawtext_escape, ffmpeg_exe, probe
from tests.conftest import REPO, make, make_production, write_flat, write_grid

BAD_NAMES = ["../../x", "/abs", "a$(shell touch PWNED)", "x;id>f", "it's_100%", "-h"]
"""Names that are not cut names: paths, make and shell syntax, quotes, a percent, an option."""

FOLDER_NAMES = ["a$(shell touch PWNED)", "x;id>f", "it's_100%", "-h"]
"""The bad names a folder under shots/ can have."""

SIZE = (16, 12)


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "compositor", *args], cwd=root, capture_output=True, text=True, timeout=600
    )


def errors(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("error:")]


def refused(run: subprocess.CompletedProcess, *fragments: str) -> str:
    """The one error line of a refused command (exit status 1, no traceback), holding every fragment."""
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    lines = errors(run)
    assert len(lines) == 1, run.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def tree(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its modification time (links not followed)."""
    return {str(p.relative_to(folder)): p.lstat().st_mtime_ns for p in folder.rglob("*")}


def assert_nothing_ran(*folders: Path) -> None:
    """No PWNED file under ``folders`` (the test's), nor where a command might have run."""
    for folder in folders:
        assert not list(folder.rglob("PWNED*")), folder
    for folder in (REPO, Path.cwd()):
        assert not list(folder.glob("PWNED*")), folder


def write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` at ``path``, whatever characters its name holds (cv2 is given plain names only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def png(rgb: tuple[int, int, int], size: tuple[int, int] = (4, 4)) -> bytes:
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:] = rgb[::-1]
    return cv2.imencode(".png", image)[1].tobytes()


def pixel(path: Path, x: int = 1, y: int = 1) -> tuple[int, ...]:
    return tuple(int(v) for v in cv2.imread(str(path))[y, x, ::-1])


PLATE_CUT = """
[shot]
frames = 2

[background]
source = "plate"
plate = "plates/bg.png"

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 2"
"""


def small_production(root: Path, cuts: tuple[str, ...] = ("sc010_c010",), edit_extra: str = "") -> Path:
    make_production(root, {c: PLATE_CUT for c in cuts}, edit_extra=edit_extra, size=SIZE)
    for cut in cuts:
        write_flat(root / f"shots/{cut}/plates/bg.png", SIZE, (40, 40, 40))
        write_grid(root / f"shots/{cut}/cels/A/A_0001.png", "RR\nRR")
        write_grid(root / f"shots/{cut}/cels/A/A_0002.png", "GG\nGG")
    return root


# ------------------------------------------------------------------------------------------------------------
# Names: every place a cut name enters refuses what is not one, in one line, writing nothing


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_cut_name_is_refused_where_it_enters(tmp_path: Path, name: str) -> None:
    root = small_production(tmp_path / "prod")
    before = tree(tmp_path)
    for command in ("new", "render"):
        run = cli(root, command, "--", name) if name.startswith("-") else cli(root, command, name)
        refused(run, repr(name), "is not a cut name")
    edit = root / "shots/edit.toml"
    edit.write_text(edit.read_text().replace('"sc010_c010"', json.dumps(name)))
    before_edit = tree(tmp_path)
    refused(cli(root, "cut"), "shots/edit.toml: edit.cuts[0]: ", "is not a cut name")
    assert tree(tmp_path) == before_edit
    del before_edit["prod/shots/edit.toml"], before["prod/shots/edit.toml"]
    assert before_edit == before  # nothing written anywhere
    assert_nothing_ran(tmp_path)


def test_style_and_preset_names_are_never_paths(tmp_path: Path) -> None:
    root = small_production(tmp_path / "prod")
    outside = tmp_path / "evil.toml"
    outside.write_text('codec = "libx264"\n')
    refused(cli(root, "encode", "sc010_c010", "--preset", "../../../evil"), "'../../../evil' is not a preset name")
    spec = root / "shots/sc010_c010/shot.toml"
    spec.write_text('encode = "../../../evil"\n' + PLATE_CUT)
    refused(cli(root, "render", "sc010_c010"), "shots/sc010_c010/shot.toml: encode: ", "is not a name")
    spec.write_text(PLATE_CUT.replace('source = "plate"', 'source = "procedural"\nstyle = "../../x"'))
    refused(cli(root, "bg", "sc010_c010"), "shots/sc010_c010/shot.toml: background.style: ", "is not a name")
    assert not (root / "render").exists()


# ------------------------------------------------------------------------------------------------------------
# make: bad cut folders, cel, plate and folder names make cannot spell, goals, titles — one production


EVIL_CELS = {
    1: "sp ace_0001.png",
    2: "d$(shell touch PWNED)_0002.png",
    3: "h#sh_0003.png",
    4: "pc%_0004.png",
    5: "co:lon_0005.png",
    6: "x;touch PWNED;_0006.png",
    7: "q'uo\"te_0007.png",
    8: "back\\slash_0008.png",
    9: "new\nline_0009.png",
    10: "ü猫_0010.png",
    11: "-lead(1)_0011.png",
    12: "eq=pipe|tab\t`x`_0012.png",
}
"""Drawing number → a file name with something make or a shell would read as syntax (12 of them: the cut is
one segment of the screening preset)."""

TITLE = "it's \"q\" $(touch PWNED) `touch PWNED` %{n} %{pts} \\ [a];b,c:d=e\nline two"

EVIL_CUT = f"""
[shot]
frames = {len(EVIL_CELS)}

[background]
source = "plate"
plate = "plates/bg;touch PWNED.png"

[[layers]]
name = "A"
cels = "cels/A"
timing = "{' '.join(str(n) for n in EVIL_CELS)}"

[[layers]]
name = "B"
cels = "cels/B:%;$(shell touch PWNED)"
timing = "x@{len(EVIL_CELS) - 1} 1"
position = [8, 8]
"""


def colour(n: int) -> tuple[int, int, int]:
    return (10 * n, 255 - 10 * n, 100)


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("evil")
    root = make_production(tmp / "prod", {"sc010_c010": EVIL_CUT}, size=SIZE, edit_extra=f"title = {json.dumps(TITLE)}\n")
    edit = root / "shots/edit.toml"
    edit.write_text(edit.read_text().replace("slate = 0\n", "slate = 0.25\n"))  # a slate, with the title on it
    cut = root / "shots/sc010_c010"
    write_file(cut / "plates/bg;touch PWNED.png", png((40, 40, 40), SIZE))
    for n, name in EVIL_CELS.items():
        write_file(cut / "cels/A" / name, png(colour(n)))
    write_file(cut / "cels/B:%;$(shell touch PWNED)/0001.png", png((255, 255, 255)))
    write_file(cut / "cels/A/spare;_0099.png", png((0, 0, 0)))  # a drawing no frame shows
    for name in FOLDER_NAMES:  # cuts nobody can name: no rules, and they stop nothing
        write_file(root / "shots" / name / "shot.toml", PLATE_CUT.encode())
    dry = make(root, "-n")
    rendered_by_dry_run = sorted((root / "render").rglob("*.png"))
    first = make(root)
    return {"root": root, "tmp": tmp, "dry": dry, "dry_outputs": rendered_by_dry_run, "first": first}


def comp(root: Path, n: int) -> Path:
    return root / f"render/sc010_c010/comp/sc010_c010.{n:04d}.png"


def test_make_dry_run_runs_nothing_but_the_dependency_file(evil: dict) -> None:
    dry = evil["dry"]
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert evil["dry_outputs"] == []
    commands = [line for line in dry.stdout.splitlines() if "compositor" in line]
    assert any(c.rstrip().endswith(" bg sc010_c010") for c in commands), dry.stdout
    assert all(name not in dry.stdout for name in FOLDER_NAMES)
    assert_nothing_ran(evil["tmp"])


def test_make_renders_a_cut_whose_files_make_cannot_spell(evil: dict) -> None:
    root, run = evil["root"], evil["first"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert_nothing_ran(evil["tmp"])
    assert {n: pixel(comp(root, n)) for n in EVIL_CELS} == {n: colour(n) for n in EVIL_CELS}
    assert pixel(comp(root, len(EVIL_CELS)), 9, 9) == (255, 255, 255)  # layer B, from its folder
    assert pixel(comp(root, 1), 10, 10) == (40, 40, 40)  # the plate
    assert probe(root / "render/tiny.mp4")["frames"] == 6 + len(EVIL_CELS)  # slate (title drawn) + the cut
    edl = (root / "render/tiny.edl").read_text().splitlines()
    assert edl[0] == "TITLE: " + " ".join(TITLE.split()) and "line two" not in "".join(edl[1:])  # one line
    deps = (root / "render/deps.mk").read_text()
    assert set(re.findall(r"(?<!\$)\$\((\w+)", deps)) == {"CLI", "FARM_FLAG"}  # every other $ is escaped
    assert "line_0009" not in deps and "h\\#sh_0003.png" in deps  # named through a link; escaped
    assert all(name not in deps for name in FOLDER_NAMES)


def test_a_second_make_does_nothing(evil: dict) -> None:
    run = make(evil["root"])
    assert run.returncode == 0 and "compositor" not in run.stdout, run.stdout + run.stderr


def test_a_file_make_cannot_spell_edited_in_place_rerenders_its_frames(evil: dict) -> None:
    root = evil["root"]
    for n in (6, 9):  # ';' and a newline in the name; the folder's time does not change
        path = root / "shots/sc010_c010/cels/A" / EVIL_CELS[n]
        folder_time = path.parent.stat().st_mtime_ns
        with open(path, "r+b") as f:
            f.write(png((1, 2, 3)))
        # newer than every target (make compares times; a coarse clock may give the write the targets' time), but
        # not in the future: a file dated ahead of the clock stays newer than what the next make writes
        newest = max(p.stat().st_mtime_ns for p in (root / "render").rglob("*") if p.is_file())
        while path.stat().st_mtime_ns <= newest:
            time.sleep(0.01)
            os.utime(path)
        assert path.parent.stat().st_mtime_ns == folder_time
        run = make(root)
        assert run.returncode == 0, run.stdout + run.stderr
        assert any(line.endswith("render sc010_c010 ") for line in run.stdout.splitlines()), run.stdout
        assert pixel(comp(root, n)) == (1, 2, 3)
    assert make(root).stdout.count("compositor") == 0


def test_a_file_make_cannot_spell_that_is_gone_stops_nothing(evil: dict) -> None:
    root = evil["root"]
    links = sorted((root / "render/deps-links").iterdir())
    (root / "shots/sc010_c010/cels/A/spare;_0099.png").unlink()
    run = make(root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(sorted((root / "render/deps-links").iterdir())) == len(links) - 1  # its link is gone too
    assert "compositor" not in make(root).stdout


def test_without_links_the_folder_stands_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without links: a file make cannot spell is named by its folder (renaming, adding or
    removing it re-runs its cut; editing it in place is seen by the commands only, as README says)."""
    from compositor.deps import dependency_file  # noqa: PLC0415

    root = small_production(tmp_path / "prod")
    os.rename(root / "shots/sc010_c010/cels/A/A_0002.png", root / "shots/sc010_c010/cels/A/A;0002.png")

    def no_links(*args: object, **kw: object) -> None:
        raise OSError("links are not supported here")

    monkeypatch.setattr(os, "symlink", no_links)
    deps = dependency_file(Production(root))
    rule = next(line for line in deps.splitlines() if line.startswith("render/sc010_c010/sc010_c010.mp4 "))
    assert " shots/sc010_c010/cels/A " in rule + " " and "A;0002" not in deps and "deps-links" not in deps


def test_validate_names_every_cut_folder_that_is_no_cut_name(evil: dict) -> None:
    run = cli(evil["root"], "validate")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert errors(run) == [
        f"error: shots/: {name!r} is not a cut name (letters, digits, '_' and '-', not first)"
        for name in sorted(FOLDER_NAMES)
    ]


@pytest.mark.parametrize(
    "goal", ["render/x;touch PWNED2/bg/bg.json", "x;touch PWNED2", "$(shell touch PWNED2)", "a$(shell touch PWNED)"]
)
def test_make_goals_run_nothing(evil: dict, goal: str) -> None:
    root = evil["root"]
    before = tree(root / "render")
    run = make(root, goal)
    assert run.returncode == 2 and "No rule to make target" in run.stderr, run.stdout + run.stderr
    assert "compositor" not in run.stdout
    assert tree(root / "render") == before
    assert_nothing_ran(evil["tmp"])


# ------------------------------------------------------------------------------------------------------------
# ffmpeg: text is drawn as written and never changes the filter graph


def draw(frames: int, size: tuple[int, int], text_filters) -> np.ndarray:  # noqa: ANN001
    """Frames of a flat colour source through ``text_filters(stream)``, decoded as RGB."""
    w, h = size
    stream = text_filters(ffmpeg.input(f"color=c=0x336699:s={w}x{h}:r=24", f="lavfi"))
    args = stream.output("pipe:", format="rawvideo", pix_fmt="rgb24", frames=frames).compile(cmd=ffmpeg_exe())
    done = subprocess.run(args, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return np.frombuffer(done.stdout, np.uint8).reshape(frames, h, w, 3)


@pytest.mark.parametrize(
    "title",
    [TITLE, "a,b;c[d]e'f:g=h\\i", "%{eif:1+1:d} %{localtime} %%", "[in]drawtext=text=x[out];[out]null", "日本語"],
)
def test_titles_are_burnt_in_literally(tmp_path: Path, title: str) -> None:
    size, preset = (320, 120), EncodePreset.model_validate({})
    burnt = draw(2, size, lambda s: draw_burn_ins(s, size[1], preset, "sc010_c010", 1, title))
    # The same text drawn from a file with expansion off: literally, whatever it holds.
    text = tmp_path / "title.txt"
    text.write_text(title, encoding="utf-8")
    fontsize = burn_in_font_size(size[1], preset)
    margin = max(2, fontsize // 2)
    common = {
        "fontfile": str(FONT), "fontsize": fontsize, "fontcolor": "white", "box": 1, "boxcolor": "black@0.55",
        "boxborderw": max(1, fontsize // 5),
    }

    def reference(stream):  # noqa: ANN001, ANN202
        stream = draw_burn_ins(stream, size[1], preset, "sc010_c010", 1, "")
        return stream.filter("drawtext", textfile=str(text), expansion="none", x=margin, y=f"h-th-{margin}", **common)

    expected = draw(2, size, reference)
    assert np.array_equal(burnt, expected)
    assert not np.array_equal(burnt, draw(2, size, lambda s: draw_burn_ins(s, size[1], preset, "sc010_c010", 1, "")))
    assert_nothing_ran(tmp_path)


def test_drawtext_escape_leaves_no_expansion() -> None:
    assert drawtext_escape("%{n}\\") == "\\%{n}\\\\"


# ------------------------------------------------------------------------------------------------------------
# Confinement: every path a spec names, and every file read through it, stays in the production (or a root)


def _rendered(tmp_path: Path, edit_extra: str = "") -> Path:
    root = small_production(tmp_path / "prod", edit_extra=edit_extra)
    run = cli(root, "render", "sc010_c010")
    assert run.returncode == 0, run.stderr
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A folder beside the production, holding what a spec must not read (unless edit.roots names it); nothing
    is ever written there."""
    folder = tmp_path / "outside"
    write_grid(folder / "secret_0002.png", "YY\nYY")
    write_flat(folder / "bg.0002.png", SIZE, (0, 0, 200))
    write_flat(folder / "plate.png", SIZE, (0, 0, 200))
    (folder / "mix.wav").write_bytes(b"RIFF")
    before = tree(folder)
    yield folder
    assert tree(folder) == before
    assert {p.name for p in tmp_path.iterdir()} == {"outside", "prod"}  # nothing written beside the production
    assert_nothing_ran(tmp_path)


LEAVING = [
    ("layers[0].cels", '"cels/A"', "../../../outside"),
    ("layers[0].cels", '"cels/A"', "{outside}"),
    ("background.plate", '"plates/bg.png"', "../../../outside/plate.png"),
    ("background.plate", '"plates/bg.png"', "{outside}/plate.png"),
    ("background.plate", '"plates/bg.png"', "../../../outside/bg.%04d.png"),
]
"""Key, its value in PLATE_CUT, and a path that leaves the production (relative or absolute)."""


def test_a_path_leaving_the_production_is_refused(tmp_path: Path, outside: Path) -> None:
    root = _rendered(tmp_path)
    frames = tree(root / "render")
    spec = root / "shots/sc010_c010/shot.toml"
    for key, was, value in LEAVING:
        spec.write_text(PLATE_CUT.replace(was, json.dumps(value.format(outside=outside))))
        refused(cli(root, "render", "sc010_c010"), f"shots/sc010_c010/shot.toml: {key}: ", "points outside the production")
        assert tree(root / "render") == frames  # what was rendered is intact


def test_a_cel_file_linked_out_of_the_production_is_refused(tmp_path: Path, outside: Path) -> None:
    root = _rendered(tmp_path)
    frames = tree(root / "render")
    cel = root / "shots/sc010_c010/cels/A/A_0002.png"
    cel.unlink()
    cel.symlink_to(outside / "secret_0002.png")
    line = refused(cli(root, "render", "sc010_c010"), "shots/sc010_c010/shot.toml: layers[0].cels: ")
    assert "'shots/sc010_c010/cels/A/A_0002.png' is a link to" in line and "outside the production" in line
    refused(cli(root, "validate"), "layers[0].cels")
    assert tree(root / "render") == frames
    # A link that stays inside is a file like any other.
    cel.unlink()
    cel.symlink_to(root / "shots/sc010_c010/cels/A/A_0001.png")
    assert cli(root, "render", "sc010_c010").returncode == 0


def test_a_cel_folder_linked_out_is_refused(tmp_path: Path, outside: Path) -> None:
    root = small_production(tmp_path / "prod")
    (root / "shots/sc010_c010/cels/B").symlink_to(outside, target_is_directory=True)
    (root / "shots/sc010_c010/shot.toml").write_text(PLATE_CUT.replace('"cels/A"', '"cels/B"'))
    refused(cli(root, "render", "sc010_c010"), "layers[0].cels: 'cels/B' points outside the production")


def test_a_plate_frame_linked_out_is_refused(tmp_path: Path, outside: Path) -> None:
    root = small_production(tmp_path / "prod")
    plates = root / "shots/sc010_c010/plates"
    write_flat(plates / "bg.0001.png", SIZE, (0, 200, 0))
    (plates / "bg.0002.png").symlink_to(outside / "bg.0002.png")
    (root / "shots/sc010_c010/shot.toml").write_text(PLATE_CUT.replace("plates/bg.png", "plates/bg.%04d.png"))
    line = refused(cli(root, "bg", "sc010_c010"), "shots/sc010_c010/shot.toml: background.plate: ")
    assert "'shots/sc010_c010/plates/bg.0002.png' is a link to" in line
    assert not (root / "render").exists()


def test_audio_outside_or_linked_out_is_refused(tmp_path: Path, outside: Path) -> None:
    root = small_production(tmp_path / "prod")
    edit = root / "shots/edit.toml"
    text = edit.read_text()
    edit.write_text(text + f'audio = "{outside / "mix.wav"}"\n')
    refused(cli(root, "cut"), "shots/edit.toml: edit.audio: ", "points outside the production")
    (root / "shots/mix.wav").symlink_to(outside / "mix.wav")
    edit.write_text(text + 'audio = "mix.wav"\n')
    refused(cli(root, "cut"), "shots/edit.toml: edit.audio: 'mix.wav' points outside the production")
    assert not (root / "render").exists()


def test_edit_roots_let_specs_read_from_a_library(tmp_path: Path, outside: Path) -> None:
    root = small_production(tmp_path / "prod", edit_extra=f'roots = ["{outside}"]\n')
    (root / "shots/sc010_c010/cels/A/A_0002.png").unlink()
    (root / "shots/sc010_c010/cels/A/A_0002.png").symlink_to(outside / "secret_0002.png")
    (root / "shots/sc010_c010/shot.toml").write_text(PLATE_CUT.replace('"plates/bg.png"', f'"{outside}/plate.png"'))
    run = cli(root, "render", "sc010_c010")
    assert run.returncode == 0, run.stderr
    assert pixel(root / "render/sc010_c010/comp/sc010_c010.0002.png") == (255, 255, 0)  # the library's drawing
    assert pixel(root / "render/sc010_c010/comp/sc010_c010.0002.png", 10, 10) == (0, 0, 200)  # its plate
    # A root must be a folder; anything beside it is still outside.
    edit = root / "shots/edit.toml"
    edit.write_text(edit.read_text().replace(str(outside), str(tmp_path / "nowhere")))
    refused(cli(root, "render", "sc010_c010"), "shots/edit.toml: edit.roots[0]: no such folder")


# ------------------------------------------------------------------------------------------------------------
# render/ on another disk


def test_render_may_be_a_link_to_another_disk(tmp_path: Path) -> None:
    root = small_production(tmp_path / "prod", cuts=("sc010_c010", "sc010_c020"))
    elsewhere = tmp_path / "other-disk" / "render"
    elsewhere.mkdir(parents=True)
    (root / "render").symlink_to(elsewhere, target_is_directory=True)
    run = make(root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (elsewhere / "tiny.mp4").is_file() and (elsewhere / "sc010_c020/comp/sc010_c020.0002.png").is_file()
    assert "render/tiny.mp4" in (elsewhere / "deps.mk").read_text()
    run = make(root)
    assert run.returncode == 0 and "compositor" not in run.stdout, run.stdout
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "BB\nBB")
    run = make(root, "sc010_c010")
    assert run.returncode == 0, run.stdout + run.stderr
    assert any(line.endswith("render sc010_c010 ") for line in run.stdout.splitlines()), run.stdout
    assert all("sc010_c020" not in line for line in run.stdout.splitlines() if "compositor " in line)
    assert pixel(elsewhere / "sc010_c010/comp/sc010_c010.0002.png", 0, 0) == (0, 0, 255)
    assert "compositor" not in make(root, "sc010_c010").stdout
    assert make(root, "clean").returncode == 0
    assert (root / "render").is_symlink() and [p.name for p in elsewhere.iterdir() if p.name != "cache"] == []


# ------------------------------------------------------------------------------------------------------------
# Sequences: frames by number, gaps and duplicates named


SEQUENCE_CUT = """
[shot]
frames = 4

[background]
source = "plate"
plate = "plates/bg.%04d.png"
"""


def _sequence(tmp_path: Path, numbers: dict[str, int], text: str = SEQUENCE_CUT) -> Production:
    root = make_production(tmp_path / "prod", {"sc010_c010": text}, size=SIZE)
    for name, value in numbers.items():
        write_flat(root / "shots/sc010_c010/plates" / name, SIZE, (value, value, value))
    return Production(root)


def test_a_gap_in_a_plate_sequence_names_the_missing_frame(tmp_path: Path) -> None:
    prod = _sequence(tmp_path, {"bg.0001.png": 10, "bg.0002.png": 20, "bg.0004.png": 40, "bg.0005.png": 50})
    refused(
        cli(prod.root, "bg", "sc010_c010"),
        "shots/sc010_c010/shot.toml: background.plate: frame 3 ('bg.0003.png') is missing from 'bg.%04d.png'",
        "hold_missing",
    )
    assert not prod.render.exists()


def test_a_duplicate_number_names_both_files(tmp_path: Path) -> None:
    prod = _sequence(tmp_path, {f"bg.{n:04d}.png": n for n in range(1, 5)} | {"bg.003.png": 99})
    refused(
        cli(prod.root, "bg", "sc010_c010"),
        "shots/sc010_c010/shot.toml: background.plate: frame 3 of 'bg.%04d.png' is both 'bg.0003.png' and 'bg.003.png'",
    )


def test_hold_missing_holds_the_frame_before_and_later_frames_keep_their_numbers(tmp_path: Path) -> None:
    numbers = {"bg.0001.png": 10, "bg.0002.png": 20, "bg.0004.png": 40, "bg.0005.png": 50, "bg.0006.png": 60}
    prod = _sequence(tmp_path, numbers, SEQUENCE_CUT.replace('source = "plate"', 'source = "plate"\nhold_missing = true'))
    from compositor.api import render_frame  # noqa: PLC0415

    shot = load_shot(prod, "sc010_c010")
    assert [int(render_frame(shot, n)[0, 0, 0] * 255 + 0.5) for n in range(1, 5)] == [10, 20, 20, 40]


def test_a_sequence_longer_than_the_cut_is_read_by_number(tmp_path: Path) -> None:
    prod = _sequence(tmp_path, {f"bg.{n:04d}.png": 10 * n for n in range(7, 15)})  # numbered from 7
    from compositor.api import render_frame  # noqa: PLC0415

    shot = load_shot(prod, "sc010_c010")
    assert [int(render_frame(shot, n)[0, 0, 0] * 255 + 0.5) for n in range(1, 5)] == [70, 80, 90, 100]


def test_a_gap_in_a_guide_sequence_is_named_too(tmp_path: Path) -> None:
    text = SEQUENCE_CUT + '\n[temporal]\nguide = "plates/guide.%04d.png"\n'
    prod = _sequence(tmp_path, {f"bg.{n:04d}.png": n for n in range(1, 5)} | {"guide.0001.png": 1, "guide.0003.png": 3}, text)
    with pytest.raises(SpecError, match=r"temporal.guide: frame 2 \('guide.0002.png'\) is missing from 'guide.%04d.png'"):
        load_shot(prod, "sc010_c010")


def test_one_line_per_problem_even_for_names_with_newlines(tmp_path: Path) -> None:
    text = textwrap.dedent(PLATE_CUT).replace('"plates/bg.png"', '"plates/bg\\n.%04d.png"')
    prod = _sequence(tmp_path, {}, text)
    for n in (1, 3):
        write_flat(prod.root / f"shots/sc010_c010/plates/bg\n.{n:04d}.png", SIZE, (1, 1, 1))
    write_grid(prod.root / "shots/sc010_c010/cels/A/A_0001.png", "R")
    write_grid(prod.root / "shots/sc010_c010/cels/A/A_0002.png", "R")
    refused(cli(prod.root, "bg", "sc010_c010"), "frame 2 ('bg\\n.0002.png') is missing")
