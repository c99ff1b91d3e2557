"""Bad input a studio brings, found by an adversarial pass over the CLI: each case is one line naming the file
and the key, exit status 1, and no traceback (`compositor validate`, or the command that reads the input)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ONE_CUT as CUT
from tests.conftest import ONE_CUT_SHOT as SHOT
from tests.conftest import REPO, write_grid
from tests.test_validate import compositor

# ------------------------------------------------------------------------------------------------------------
# TOML that tomllib reads only part of the way: each was a traceback


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("frames = " + "9" * 5000, "shots/t1/shot.toml: not valid TOML: a number too long to read (over 4300 digits)"),
        ("x = " + "[" * 5000 + "]" * 5000, "shots/t1/shot.toml: not valid TOML: arrays or tables nested too deep to read"),
        ("x = " + "{a=" * 3000 + "1" + "}" * 3000, "shots/t1/shot.toml: not valid TOML: arrays or tables nested too deep to read"),
    ],
    ids=["a 5000-digit number", "arrays 5000 deep", "inline tables 3000 deep"],
)
def test_toml_beyond_what_python_reads_is_one_line(prod, capsys, text: str, line: str) -> None:
    root = prod(SHOT.replace("frames = 4", text) if text.startswith("frames") else text + "\n" + SHOT)
    assert compositor(root, capsys, "validate") == (1, [line])


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('cels = "cels/A"', 'cels = "cels/\\u0000A"', "layers[0].cels"),
        ('name = "A"', 'name = "A\\u0000"', "layers[0].name"),
        ('timing = "1 2 . 1"', 'timing = [1, 2, ".\\u0000", 1]', "layers[0].timing[2]"),
    ],
)
def test_a_nul_character_in_a_spec_is_refused_naming_its_key(prod, capsys, old: str, new: str, key: str) -> None:
    """A NUL (written "\\u0000") was a ValueError traceback where a path was resolved; no value may hold one."""
    root = prod(SHOT.replace(old, new))
    assert compositor(root, capsys, "validate") == (
        1,
        [f"shots/t1/shot.toml: {key}: a NUL character (\\u0000) cannot be in a spec"],
    )


# ------------------------------------------------------------------------------------------------------------
# Paths a spec names


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('cels = "cels/A"', 'cels = ""', "layers[0].cels"),
        ('cels = "cels/A"', 'cels = " "', "layers[0].cels"),
        ("seed = 7", 'seed = 7\nretouch = ""', "background.retouch"),
    ],
)
def test_an_empty_path_is_refused_naming_its_key(prod, capsys, old: str, new: str, key: str) -> None:
    """``cels = ""`` was a KeyError traceback (the empty path was skipped, then looked up); a retouch of ""
    was silently no retouch."""
    root = prod(SHOT.replace(old, new))
    line = f"shots/t1/shot.toml: {key}: an empty path (name a file or folder, or leave the key out)"
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])


def test_a_link_loop_among_the_drawings_is_one_line(prod, capsys) -> None:
    """A link that leads back to itself was a RuntimeError traceback (Python's resolve on a loop)."""
    root = prod()
    loop = root / "shots" / CUT / "cels/A/A_0003.png"
    loop.symlink_to(loop.name)
    line = (
        "shots/t1/shot.toml: layers[0].cels: shots/t1/cels/A/A_0003.png: a link that leads back to itself "
        "(a link loop): link it to a real file"
    )
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])


def test_a_cel_folder_that_is_a_link_loop_is_one_line(prod, capsys) -> None:
    root = prod(SHOT.replace('cels = "cels/A"', 'cels = "cels/L"'))
    (root / "shots" / CUT / "cels/L").symlink_to("L")
    line = "shots/t1/shot.toml: layers[0].cels: 'cels/L' is a link that leads back to itself (a link loop)"
    assert compositor(root, capsys, "validate") == (1, [line])


# ------------------------------------------------------------------------------------------------------------
# XDTS sheets

XDTS_HEADER = "exchangeDigitalTimeSheet Save Data\n"


def _sheet(duration: str = "4") -> str:
    track = '{"trackNo": 0, "frames": [{"frame": 0, "data": [{"id": 0, "values": ["1"]}]}]}'
    return (
        XDTS_HEADER + '{"version": 5, "timeTables": [{"duration": ' + duration + ', "name": "t1", '
        '"timeTableHeaders": [{"fieldId": 0, "names": ["A"]}], "fields": [{"fieldId": 0, "tracks": [' + track + "]}]}]}"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_sheet(), None),
        (_sheet("1000000000000"), "timeTables[0].duration: 1000000000000 frames, more than a cut may have (100000)"),
        (_sheet("9" * 5000), "not valid XDTS JSON: a number too long to read (over 4300 digits)"),
        (XDTS_HEADER + "[" * 100_000 + "]" * 100_000, "not valid XDTS JSON: arrays or objects nested too deep to read"),
    ],
    ids=["sound", "10^12 frames", "a 5000-digit number", "nested 100000 deep"],
)
def test_an_xdts_sheet_python_cannot_hold_is_one_line(prod, capsys, text: str, problem: str | None) -> None:
    """A sheet claiming 10^12 frames was a MemoryError (each track expanded a label a frame), a deep or
    long-numbered JSON a RecursionError or ValueError traceback."""
    root = prod('timesheet = "t1.xdts"\n' + SHOT.replace('timing = "1 2 . 1"\n', ""))
    (root / "shots" / CUT / "t1.xdts").write_text(text)
    expected = (0, []) if problem is None else (1, [f"shots/t1/shot.toml: timesheet: shots/t1/t1.xdts: {problem}"])
    assert compositor(root, capsys, "validate") == expected


# ------------------------------------------------------------------------------------------------------------
# Where the commands write


@pytest.mark.parametrize("output", ["", "/"])
@pytest.mark.parametrize("command", [("xdts", CUT, "-o"), ("deps", "--output")], ids=["xdts", "deps"])
def test_a_folder_given_as_the_file_to_write_is_one_line(
    prod, capsys, monkeypatch, command: tuple[str, ...], output: str
) -> None:
    """``-o ""`` or ``-o /`` was a ValueError traceback (a temporary name made from an empty file name); now it
    reads like ``-o shots`` (a folder in the way), and nothing is written."""
    root = prod()
    monkeypatch.chdir(root)  # "" is the current folder: never the checkout's
    code, lines = compositor(root, capsys, *command, output)
    shown = output or "."
    assert (code, lines) == (1, [f"{shown}: cannot write: Is a directory (a folder is in the way: move it away, or choose another path)"])


def test_a_scheduler_address_that_is_not_one_is_one_line(prod) -> None:
    """``--scheduler garbage`` was a ValueError traceback from distributed's address parser, and then the
    half-made client hung the exit 40 s and printed another traceback: run as a user runs it."""
    pytest.importorskip("distributed")
    root = prod()
    for args in (
        ("render", CUT, "--scheduler", "garbage"),
        ("deflicker", "--input", "a/%04d.png", "--guide", "b/%04d.png", "--output", "c", "--scheduler", "garbage"),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "compositor", "--root", str(root), *args],
            capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert (run.returncode, run.stderr.splitlines()[-1:]) == (
            1,
            ["error: garbage: not a Dask scheduler address (missing port number in address 'garbage'; write tcp://host:8786)"],
        ), run.stderr
        assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("inproc://", "not enough values to unpack"),
        ("inproc://10.0.0.1/1/1", "does not match host"),
        ("tcp://127.0.0.1:99999", "port 99999 is not 1-65535"),
        ("tcp://127.0.0.1:-1", "port -1 is not 1-65535"),
    ],
    ids=["inproc, no location", "another process's inproc", "port over 65535", "negative port"],
)
def test_a_scheduler_address_no_client_can_reach_is_refused_at_once(address: str, reason: str) -> None:
    """An in-process cluster's address of another process (or none: ``inproc://``) was the ValueError traceback
    and the 40 s hang at exit that the check is there to prevent; a port out of range waited 20 s to time out."""
    pytest.importorskip("distributed")
    from compositor.errors import RenderError
    from compositor.farm import check_address

    with pytest.raises(RenderError, match=rf"^{re.escape(address)}: not a Dask scheduler address \(.*{reason}"):
        check_address(address)
    check_address("tcp://127.0.0.1:8786")
    check_address("localhost:8786")


# ------------------------------------------------------------------------------------------------------------
# Encode presets


def test_a_movflag_ffmpeg_does_not_know_is_refused_naming_the_preset_and_key(prod, capsys) -> None:
    """``movflags = "+bogus"`` passed validate and failed at the encode as "render/t1/t1.mp4: ffmpeg failed:
    Could not write header (incorrect codec parameters ?)", naming neither the preset nor the key."""
    root = prod()
    preset = root / "templates/encode/screening.toml"
    preset.write_text(preset.read_text().replace('movflags = "+faststart"', 'movflags = "+faststart+bogus"'))
    code, lines = compositor(root, capsys, "validate")
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(
        "templates/encode/screening.toml: movflags: 'bogus': not a flag of ffmpeg's mp4/mov muxer (faststart, "
    ), lines


# ------------------------------------------------------------------------------------------------------------
# The edit's audio


def test_an_audio_file_ffmpeg_cannot_read_is_refused_naming_edit_audio(production_factory, capsys) -> None:
    """A zero-byte ``edit.audio`` passed validate, then failed the screening cut as "render/tiny.mp4: ffmpeg
    failed: Error opening input file ...", naming neither edit.toml nor the key; nothing of the edit is made."""
    root = production_factory({CUT: SHOT}, edit_extra='audio = "mix.wav"\n')
    write_grid(root / "shots" / CUT / "cels/A/A_0001.png", "RR\nRR")
    write_grid(root / "shots" / CUT / "cels/A/A_0002.png", "GG\nGG")
    (root / "shots/mix.wav").write_bytes(b"")
    line = "shots/edit.toml: edit.audio: shots/mix.wav: no audio that ffmpeg can read"
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "cut") == (1, [line])
    assert not (root / "render/tiny.mp4").exists()


def test_a_font_that_is_not_a_font_file_is_refused_naming_edit_font(production_factory, capsys) -> None:
    """``font = "f.ttf"`` holding noise passed validate and rendered: ffmpeg's drawtext fell back to another
    font, silently, so the burn-ins were not in the font the edit names."""
    from compositor.steps.burnin import FONT

    root = production_factory({CUT: SHOT}, edit_extra='font = "f.ttf"\n')
    (root / "shots/f.ttf").write_bytes(b"this is not a font, only text named like one" * 20)
    line = "shots/edit.toml: edit.font: 'f.ttf' is not a font file (TrueType, OpenType, WOFF or Type 1)"
    assert compositor(root, capsys, "validate") == (1, [line])
    (root / "shots/f.ttf").write_bytes(FONT.read_bytes())  # the shipped OpenType font, under the user's name
    write_grid(root / "shots" / CUT / "cels/A/A_0001.png", "RR\nRR")
    write_grid(root / "shots" / CUT / "cels/A/A_0002.png", "GG\nGG")
    assert compositor(root, capsys, "validate") == (0, [])


# ------------------------------------------------------------------------------------------------------------
# true/false where a number goes: pydantic read it as 1 or 0


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("frames = 4", "frames = true", "shot.frames"),
        ('timing = "1 2 . 1"', "timing = [1, true, 2, 1]", "layers[0].timing[1]"),
        ('timing = "1 2 . 1"', 'timing = "1 2 . 1"\nscale = true', "layers[0].scale"),
        ("seed = 7", "seed = false", "background.seed"),
    ],
    ids=["frames", "a drawing in a timing list", "scale", "seed"],
)
def test_true_or_false_where_a_number_goes_is_refused_naming_its_key(prod, capsys, old, new, key) -> None:
    root = prod(SHOT.replace(old, new))
    code, lines = compositor(root, capsys, "validate")
    assert (code, lines) == (1, [f"shots/t1/shot.toml: {key}: true/false where a number goes (write the number)"])


@pytest.mark.parametrize(("old", "new", "key"), [('cels = "cels/A"', "cels = true", "layers[0].cels"),
                                                   ('source = "procedural"', "source = false", "background.source")])
def test_true_or_false_where_text_goes_is_not_called_a_number(prod, capsys, old, new, key) -> None:
    """Only a key that takes a number is told to write one; text keys keep pydantic's own line."""
    code, lines = compositor(prod(SHOT.replace(old, new)), capsys, "validate")
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"shots/t1/shot.toml: {key}: ")
    assert "number" not in lines[0]


def test_true_and_false_stay_what_they_are_where_a_switch_goes(prod, capsys) -> None:
    root = prod(SHOT + '\n[output]\nalpha = true\n')
    assert compositor(root, capsys, "validate") == (0, [])
