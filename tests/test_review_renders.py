"""Rendering for review: a frame range, a still, a contact sheet; progress people can read; the table at the end
of a run; what Ctrl-C says (tests/test_reliability.py interrupts real renders)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console

from compositor.cli import main
from compositor.core.io import read_png_key, read_rgb8
from compositor.core.sheet import contact_sheet
from compositor.errors import SpecError
from compositor.reporting import LineProgress, RunRecord, made_since, progress_reporter, under_parallel_make
from compositor.spec import Production, load_shot
from compositor.steps.stills import parse_frames, sheet_numbers
from tests.test_reliability import CUT, production


def run(root: Path, *args: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """``compositor <args>`` in this process, in ``root``: (exit status, stdout, stderr)."""
    monkeypatch.chdir(root)
    monkeypatch.setattr("sys.argv", ["compositor", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def appears(image: np.ndarray, part: np.ndarray) -> bool:
    """Whether ``part`` lies in ``image`` exactly, somewhere."""
    found = cv2.matchTemplate(image, part, cv2.TM_SQDIFF)
    y, x = np.unravel_index(np.argmin(found), found.shape)
    return np.array_equal(image[y : y + part.shape[0], x : x + part.shape[1]], part)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small cut of test_reliability, rendered whole once (comp frames to compare stills with)."""
    from compositor.steps.composite import render_cut

    root = production(tmp_path_factory.mktemp("whole") / "prod")
    render_cut(load_shot(Production(root), CUT))
    return root


def test_frames_are_written_as_timesheet_numbers_and_ranges(tmp_path: Path) -> None:
    shot = load_shot(Production(production(tmp_path / "prod")), CUT)
    assert parse_frames("12-14", shot) == [12, 13, 14]
    assert parse_frames("3", shot) == [3]
    assert parse_frames("1-3, 2-4,24", shot) == [1, 2, 3, 4, 24]
    for bad, says in (
        ("0-3", "frame 0 is outside the cut (1-24)"),
        ("20-25", "frame 25 is outside the cut (1-24)"),
        ("9-3", "9-3 runs backwards"),
        ("a-3", "write frames as 12, 12-36 or 1-5,9"),
        ("3-", "write frames as 12, 12-36 or 1-5,9"),
        ("", "write frames as"),
    ):
        with pytest.raises(SpecError, match=re.escape(says)) as caught:
            parse_frames(bad, shot)
        assert str(caught.value).startswith(f"shots/{CUT}/shot.toml: --frames {bad}:")


def test_a_frame_range_makes_those_frames_only_and_the_whole_render_keeps_them(
    tmp_path: Path, rendered: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = production(tmp_path / "prod")
    code, _, err = run(root, "render", CUT, "--frames", "5-8,12", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    comp = root / "render" / CUT / "comp"
    assert sorted(p.name for p in comp.glob("*.png")) == [f"{CUT}.{n:04d}.png" for n in (5, 6, 7, 8, 12)]
    assert not (comp / "comp.json").exists()  # not a whole cut: make must not take it for done
    assert not list((root / "render" / CUT).glob("*.mp4"))
    assert f"{CUT}: frames 5-8,12: 5 of 5 composited" in err
    whole = rendered / "render" / CUT / "comp"
    for n in (5, 6, 7, 8, 12):  # the very frames of a whole render: same pixels, same key
        name = f"{CUT}.{n:04d}.png"
        assert np.array_equal(read_rgb8(comp / name), read_rgb8(whole / name))
        assert read_png_key(comp / name) == read_png_key(whole / name)
    code, _, err = run(root, "render", CUT, "--frames", "6-7", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and f"{CUT}: frames 6-7: 0 of 2 composited (2 were up to date)" in err
    code, _, err = run(root, "render", CUT, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert f"{CUT}: 19 of 24 frames composited" in err  # the five of the range are kept
    code, _, err = run(root, "render", CUT, "--frames", "30-31", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 1
    assert err.strip() == f"error: shots/{CUT}/shot.toml: --frames 30-31: frame 30 is outside the cut (1-24)"


def test_a_still_is_the_frame_the_render_writes(
    tmp_path: Path, rendered: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = production(tmp_path / "prod")
    code, _, err = run(root, "still", CUT, "9", "-o", str(tmp_path / "nine.png"), capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert np.array_equal(read_rgb8(tmp_path / "nine.png"), read_rgb8(rendered / "render" / CUT / "comp" / f"{CUT}.0009.png"))
    assert not (root / "render" / CUT / "comp").exists()  # nothing but the still (and the background) written
    code, _, err = run(root, "still", CUT, "24", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and (root / "render" / CUT / "stills" / f"{CUT}.0024.png").is_file()
    code, _, err = run(root, "still", CUT, "25", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 1 and err.strip() == f"error: shots/{CUT}/shot.toml: frame 25 is outside the cut (1-24)"
    code, _, err = run(root, "still", CUT, "2", "-o", "x.gif", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 1 and err.strip().startswith("error: -o x.gif: a still is written as .png")


def test_a_contact_sheet_shows_every_nth_frame_and_the_last_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = production(tmp_path / "prod")
    shot = load_shot(Production(root), CUT)
    assert sheet_numbers(shot, 5) == [1, 6, 11, 16, 21, 24]
    assert sheet_numbers(shot, None) == list(range(1, 25))  # 24 frames: all of them, at most 36 by default
    code, _, err = run(root, "sheet", CUT, "--every", "5", "--columns", "4", "--width", "64", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    sheet = read_rgb8(root / "render" / CUT / f"{CUT}.sheet.png")
    thumb = read_rgb8(root / "render" / CUT / "comp" / f"{CUT}.0006.png")  # 64x48: the thumbnails are full size
    assert appears(sheet, thumb)  # frame 6 is on the sheet, pixel for pixel
    assert sorted(p.name for p in (root / "render" / CUT / "comp").glob("*.png")) == [
        f"{CUT}.{n:04d}.png" for n in (1, 6, 11, 16, 21, 24)
    ]


def test_contact_sheet_layout_and_labels() -> None:
    thumbs = [np.full((30, 40, 3), 40 * i, np.uint8) for i in range(5)]
    sheet = contact_sheet(thumbs, ["1", "2", "3", "4", "5"], columns=3, title="cut")
    blank = contact_sheet(thumbs, [""] * 5, columns=3, title="cut")
    untitled = contact_sheet(thumbs, ["1", "2", "3", "4", "5"], columns=3)
    assert sheet.shape == blank.shape and sheet.shape[1] > 3 * 40 and sheet.shape[0] > 2 * 30
    assert untitled.shape[0] < sheet.shape[0]
    assert not np.array_equal(sheet, blank)  # the labels are drawn
    for i, thumb in enumerate(thumbs):  # each thumbnail appears, whole
        assert appears(sheet, thumb), i
    with pytest.raises(ValueError, match="labels"):
        contact_sheet(thumbs, ["1"], columns=3)


def test_progress_lines_in_a_log_start_tick_every_few_seconds_and_end() -> None:
    now = [0.0]
    out = io.StringIO()
    lines = LineProgress(out, interval=5.0, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] = done * 0.25  # four frames a second
        lines("sc010_c010: composite", done, 100)
    text = out.getvalue().splitlines()
    assert text[0] == "sc010_c010: composite (100)"
    assert text[-1] == "sc010_c010: composite: 100/100 (100%), 4.0/s, 0:00 left"
    ticks = text[1:-1]
    assert 3 <= len(ticks) <= 5  # 25 seconds: a line every 5
    assert ticks[0] == "sc010_c010: composite: 21/100 (21%), 4.0/s, 0:19 left"
    lines("sc010_c010: composite", 100, 100)
    assert out.getvalue().splitlines()[-1] == text[-1] and len(out.getvalue().splitlines()) == len(text)


@pytest.mark.parametrize(
    ("makeflags", "parallel"),
    [("", False), ("s", False), ("j", True), ("rj -j2", True), (" -j4 --jobserver-auth=fifo:/tmp/x", True), ("k -- X=j", False)],
)
def test_parallel_make_is_detected_from_makeflags(makeflags: str, parallel: bool) -> None:
    assert under_parallel_make({"MAKEFLAGS": makeflags}) is parallel


def test_beside_other_cuts_under_make_j_a_terminal_gets_lines_not_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    monkeypatch.setenv("MAKEFLAGS", " -j2 --jobserver-auth=fifo:/tmp/x")
    with progress_reporter(terminal) as update:
        assert isinstance(update, LineProgress)
    monkeypatch.delenv("MAKEFLAGS")
    with progress_reporter(terminal) as update:
        assert not isinstance(update, LineProgress)
        update("composite", 3, 10)
    assert "3/10" in terminal.file.getvalue()


def test_the_screening_cut_ends_with_a_table_of_what_was_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = production(tmp_path / "prod")
    monkeypatch.delenv("MAKE_STARTED", raising=False)
    code, out, err = run(root, "cut", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert "made in this run" in out
    table = out.split("made in this run")[1]
    row = next(line for line in table.splitlines() if CUT in line)
    assert re.search(r"\b24\b.*\b24\b", row), row  # 24 frames composited of 24
    record = RunRecord.read(root / "render" / CUT / f"{CUT}.run.json")
    assert record is not None and record.composited == 24 and record.frames == 24 and record.seconds > 0
    code, out, err = run(root, "cut", capsys=capsys, monkeypatch=monkeypatch)  # nothing changed: no cut made
    assert code == 0, err
    assert CUT not in out.split("made in this run")[1].split("already up to date")[0].replace(f"{CUT}.mp4", "")
    assert "1 cut already up to date" in out


def test_made_since_counts_what_ran_after_the_start() -> None:
    old = RunRecord("a", finished=100.0, seconds=1.0)
    new = RunRecord("b", finished=200.0, seconds=2.0)
    assert made_since({"a": old, "b": new, "c": None}, 150.0) == ([new], 2)
    assert RunRecord.read(Path("/nonexistent/x.run.json")) is None
