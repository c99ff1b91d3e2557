"""Bad input found by a second adversarial pass over the CLI (the first: ``test_audit_inputs.py``): each case is
one line naming the file and the key, exit status 1 and no traceback; legal-but-odd input renders as an editor
would expect."""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import ONE_CUT as CUT
from tests.conftest import ONE_CUT_SHOT as SHOT
from tests.conftest import write_grid
from tests.test_validate import compositor, run_main

# ------------------------------------------------------------------------------------------------------------
# A number written as text: pydantic's lax mode read "4" as 4


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("frames = 4", 'frames = "4"', "shot.frames: '4' is text"),
        ("frames = 4", 'frames = 4\nfps = "23.976"', "shot.fps: '23.976' is text"),
        ("frames = 4", 'frames = 4\nsize = [32, "24"]', "shot.size[1]: '24' is text"),
        ("seed = 7", 'seed = "7"', "background.seed: '7' is text"),
        ('timing = "1 2 . 1"', 'timing = "1 2 . 1"\nopacity = "0.5"', "layers[0].opacity: '0.5' is text"),
        ('timing = "1 2 . 1"', 'timing = "1 2 . 1"\n[[effects]]\ntype = "glow"\nstrength = "1"',
         "effects[0].strength: '1' is text"),
    ],
    ids=["frames", "fps", "a size's side", "seed", "opacity", "an effect's key"],
)
def test_a_number_written_as_text_is_refused_naming_its_key(prod, capsys, old: str, new: str, line: str) -> None:
    root = prod(SHOT.replace(old, new))
    assert compositor(root, capsys, "validate") == (
        1, [f"shots/t1/shot.toml: {line} where a number goes (write the number without quotes)"]
    )  # fmt: skip


def test_every_number_written_as_text_is_reported_with_the_other_problems(prod, capsys) -> None:
    """Quoted numbers in one table are each a line, and a word where a number goes is pydantic's own line,
    reported with them (validate names every problem at once)."""
    root = prod(SHOT.replace("frames = 4", 'frames = "4"\nfps = "24"').replace("seed = 7", 'seed = "seven"'))
    status, lines = compositor(root, capsys, "validate")
    assert status == 1
    assert sorted(lines) == sorted([
        "shots/t1/shot.toml: shot.frames: '4' is text where a number goes (write the number without quotes)",
        "shots/t1/shot.toml: shot.fps: '24' is text where a number goes (write the number without quotes)",
        "shots/t1/shot.toml: background.seed: Input should be a valid integer, unable to parse string as an integer",
    ])  # fmt: skip


def test_a_number_as_text_leaves_the_other_problems_reported(prod, capsys) -> None:
    """Every problem at once: the text in one key does not hide a bad value in another key of the same table."""
    root = prod(SHOT.replace("frames = 4", 'frames = "4"\nfps = -3\nsize = [32, true]'))
    assert compositor(root, capsys, "validate") == (1, [
        "shots/t1/shot.toml: shot.frames: '4' is text where a number goes (write the number without quotes)",
        "shots/t1/shot.toml: shot.fps: Input should be greater than 0",
        "shots/t1/shot.toml: shot.size[1]: true/false where a number goes (write the number)",
    ])  # fmt: skip


def test_text_stays_text_where_text_goes(prod, capsys) -> None:
    """Timing tokens are text ("2", ".", "x"), and a style reference written as a path alone is a table made by
    the key's own reader: neither is a number written as text."""
    root = prod(SHOT.replace('timing = "1 2 . 1"', 'timing = [1, "2", ".", "1"]'))
    assert compositor(root, capsys, "validate") == (0, [])
    assert compositor(root, capsys, "still", CUT, "2", "-o", str(root / "s.png")) == (0, [])


def test_a_number_as_text_in_the_edit_is_refused(prod, capsys) -> None:
    root = prod()
    edit = root / "shots/edit.toml"
    edit.write_text(edit.read_text().replace("fps = 24", 'fps = "24"'))
    assert compositor(root, capsys, "validate") == (
        1, ["shots/edit.toml: edit.fps: '24' is text where a number goes (write the number without quotes)"]
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------------------
# Unknown keys in nested tables: already refused like the top level's (kept so)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[[effects]]\ntype = "glow"\nstrenght = 0.5', "effects[0].strenght"),
        ("[camera]\nkeys = [{ frame = 1, x = 0, y = 0, zom = 1 }]", "camera.keys[0].zom"),
        ("[temporal]\nstrenght = 0.5", "temporal.strenght"),
    ],
)
def test_an_unknown_key_in_a_nested_table_is_refused_naming_its_path(prod, capsys, extra: str, key: str) -> None:
    root = prod(SHOT + extra + "\n")
    assert compositor(root, capsys, "validate") == (1, [f"shots/t1/shot.toml: {key}: unknown key (check its spelling)"])


# ------------------------------------------------------------------------------------------------------------
# A drawing's name on something that is not a file


@pytest.mark.parametrize("kind", ["folder", "named pipe"])
def test_a_drawing_name_on_a_folder_or_a_pipe_is_one_line(prod, capsys, kind: str) -> None:
    """A folder ``cels/A/A_0003.png/`` gave two lines (one "no such file" with the absolute path); a named pipe
    blocked `compositor validate` for ever (its header was read with a plain open)."""
    root = prod(SHOT.replace('timing = "1 2 . 1"', 'timing = "1 2 3 1"'))
    path = root / "shots" / CUT / "cels/A/A_0003.png"
    if kind == "folder":
        path.mkdir()
        reason = "a folder, not an image file"
    else:
        os.mkfifo(path)
        reason = "not a regular file (a pipe or a device)"
    line = f"shots/t1/cels/A/A_0003.png: cannot decode drawing 3 of layer 'A' ({reason})"
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])


# ------------------------------------------------------------------------------------------------------------
# [encode] ffmpeg naming a program that is not ffmpeg


@pytest.mark.parametrize("program", ["/bin/false", "/bin/ls"])
def test_an_ffmpeg_that_is_not_ffmpeg_is_refused_by_validate(prod, capsys, program: str) -> None:
    """Only the encode found it, as "render/t1/segments/...mp4: ffmpeg failed: Try 'ls --help'", naming neither
    edit.toml nor the key, after every frame was composited."""
    root = prod(edit_extra=f'[encode]\nffmpeg = "{program}"\n')
    code, lines = compositor(root, capsys, "validate")
    name = Path(program).name
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("shots/edit.toml: encode.ffmpeg: ") and f"not an ffmpeg (`{name} -version` " in lines[0]
    code, render_lines = compositor(root, capsys, "render", CUT)
    assert (code, render_lines) == (1, lines)
    assert not (root / "render" / CUT / "comp").exists() or not any((root / "render" / CUT / "comp").iterdir())


# ------------------------------------------------------------------------------------------------------------
# XDTS sheets

XDTS_HEADER = "exchangeDigitalTimeSheet Save Data\n"


def _sheet(cels: str = '{"frame": 0, "data": [{"id": 0, "values": ["1"]}]}, '
                       '{"frame": 2, "data": [{"id": 0, "values": ["2"]}]}', extra_fields: str = "",
           extra_headers: str = "") -> str:  # fmt: skip
    return (
        XDTS_HEADER + '{"version": 5, "timeTables": [{"duration": 4, "name": "t1", "timeTableHeaders": '
        '[{"fieldId": 0, "names": ["A"]}' + extra_headers + '], "fields": [{"fieldId": 0, "tracks": '
        '[{"trackNo": 0, "frames": [' + cels + "]}]}" + extra_fields + "]}]}"
    )


SHEET_SHOT = 'timesheet = "t1.xdts"\n' + SHOT.replace('timing = "1 2 . 1"\n', "")


def test_a_lone_surrogate_in_a_sheet_is_one_line(prod, capsys) -> None:
    """JSON reads "\\ud800" (half of a character); it passed validate and `compositor xdts` then failed with a
    UnicodeEncodeError traceback writing the dialogue back out."""
    root = prod(SHEET_SHOT)
    dialogue = ', {"fieldId": 3, "tracks": [{"trackNo": 0, "frames": [{"frame": 0, "data": [{"id": 0, "values": ["hi \\ud800"]}]}]}]}'
    (root / "shots" / CUT / "t1.xdts").write_text(_sheet(extra_fields=dialogue, extra_headers=', {"fieldId": 3, "names": ["D"]}'))
    line = "shots/t1/shot.toml: timesheet: shots/t1/t1.xdts: not valid XDTS JSON: \\ud800 is half of a character (a lone surrogate)"
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "xdts", CUT, "-o", str(root / "out.xdts")) == (1, [line])


def test_a_layer_the_sheet_times_keeps_its_shade(prod, capsys) -> None:
    """A shade on a layer timed by the XDTS sheet was a KeyError traceback (its matte folder was never
    resolved), in validate and render alike; now the frame is the one the same timing written inline gives."""
    from compositor.core.io import read_image

    shade = '\n[[layers.shade]]\ncels = "cels/S"\nopacity = 0.8\n'
    root = prod(SHEET_SHOT + shade)
    folder = root / "shots" / CUT
    (folder / "t1.xdts").write_text(_sheet())
    write_grid(folder / "cels/S/S_0001.png", "K.\n..")
    write_grid(folder / "cels/S/S_0002.png", "..\n.K")
    assert compositor(root, capsys, "validate") == (0, [])
    assert compositor(root, capsys, "still", CUT, "3", "-o", str(root / "sheet.png")) == (0, [])
    (folder / "shot.toml").write_text(SHOT.replace('"1 2 . 1"', '"1 . 2 ."') + shade)
    assert compositor(root, capsys, "still", CUT, "3", "-o", str(root / "inline.png")) == (0, [])
    (folder / "shot.toml").write_text(SHOT.replace('"1 2 . 1"', '"1 . 2 ."'))
    assert compositor(root, capsys, "still", CUT, "3", "-o", str(root / "plain.png")) == (0, [])
    sheet, inline, plain = (read_image(root / f"{n}.png") for n in ("sheet", "inline", "plain"))
    assert (sheet == inline).all()
    assert (sheet != plain).any()  # the shade is laid


# ------------------------------------------------------------------------------------------------------------
# Damaged PNG drawings: libpng printed a line of its own on stderr


def _damaged(data: bytes, how: str) -> bytes:
    """A PNG's bytes with its IDAT checksum flipped, or cut inside its IEND chunk."""
    if how == "cut short":
        return data[:-6]
    at = data.find(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    crc = at + 4 + length
    return data[:crc] + bytes([data[crc] ^ 0xFF]) + data[crc + 1 :]


@pytest.mark.parametrize(
    ("kind", "how", "reason"),
    [
        ("rgba", "bad checksum", "damaged: the checksum of its 'IDAT' chunk does not match"),
        ("palette", "bad checksum", "damaged: the checksum of its 'IDAT' chunk does not match"),
        ("rgba", "cut short", "cut short: the file ends before its IEND chunk (an unfinished copy or download?)"),
        ("16-bit", "cut short", "cut short: the file ends before its IEND chunk (an unfinished copy or download?)"),
    ],
)
def test_a_damaged_png_drawing_is_one_line_on_stderr(prod, capfd, kind: str, how: str, reason: str) -> None:
    """libpng's own "libpng error: IDAT: CRC error" (or "PNG input buffer is incomplete") came on stderr above
    the error line: two lines. The whole of stderr is read here (fd 2: libpng writes there, not to Python's)."""
    root = prod(SHOT.replace('timing = "1 2 . 1"', 'timing = "1 2 2 1"'))
    path = root / "shots" / CUT / "cels/A/A_0002.png"
    pixels = np.random.default_rng(1).integers(0, 256, (6, 5, 4), np.uint8)
    if kind == "palette":
        Image.fromarray(pixels[:, :, :3]).quantize(8).save(path, transparency=0)
    else:
        cv2.imwrite(str(path), pixels.astype(np.uint16) * 257 if kind == "16-bit" else pixels)
    path.write_bytes(_damaged(path.read_bytes(), how))
    line = f"error: shots/t1/cels/A/A_0002.png: cannot decode drawing 2 of layer 'A' ({reason})"
    assert every_line(root, capfd, "validate") == (1, [line])
    assert every_line(root, capfd, "still", CUT, "2") == (1, [line])


def every_line(root: Path, capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """The command in this process: its exit status and every line on its stderr, the C libraries' too."""
    code, stderr = run_main(root, capfd, *args)
    return code, stderr.splitlines()


# ------------------------------------------------------------------------------------------------------------
# Plates


def test_a_video_plate_cut_short_is_one_line_on_stderr(prod, capfd) -> None:
    """A movie copied halfway (no moov box) gave FFmpeg's "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x...] moov atom not
    found" on stderr above the error line."""
    from compositor.steps.encode import ffmpeg_exe

    spec = SHOT.replace('source = "procedural"', 'source = "plate"\nplate = "plates/bg.mp4"')
    root = prod(spec)
    video = root / "shots" / CUT / "plates/bg.mp4"
    video.parent.mkdir(parents=True)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=s=32x24:r=24", "-frames:v", "8",
         "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    line = "error: shots/t1/shot.toml: background.plate: cannot read the video (no frames decoded)"
    assert every_line(root, capfd, "validate") == (1, [line])


# ------------------------------------------------------------------------------------------------------------
# Cut names


def test_a_cut_name_too_long_for_its_files_is_refused_by_validate(prod, capsys) -> None:
    """A 240-character cut passed validate, composited, and then failed at its first movie segment (a file name
    of 285 characters: "File name too long")."""
    root = prod()
    name = "a" * 240
    (root / "shots" / name).mkdir()
    (root / "shots" / name / "shot.toml").write_text(SHOT)
    line = f"'{'a' * 20}'... is 240 characters long; a cut name has at most 100 (it names the cut's files)"
    assert compositor(root, capsys, "validate") == (1, [f"shots/: {line}"])
    assert compositor(root, capsys, "render", name) == (1, [f"cut: {line}"])


@pytest.mark.parametrize(("fps", "problem"), [("0.25", "0.25 frames a second: a movie needs at least 1"),
                                              ("0", "Input should be greater than 0")])
def test_a_frame_rate_a_movie_cannot_have_is_refused_by_validate(prod, capsys, fps: str, problem: str) -> None:
    """``fps = 0.25`` passed validate, composited every frame, then failed at the encode as "render/t1/segments/
    ...mp4: ffmpeg failed: Error : Invalid argument", naming neither the file nor the key."""
    root = prod(SHOT.replace("frames = 4", f"frames = 4\nfps = {fps}"))
    assert compositor(root, capsys, "validate") == (1, [f"shots/t1/shot.toml: shot.fps: {problem}"])


# ------------------------------------------------------------------------------------------------------------
# --frames


@pytest.mark.parametrize("frames", ["\u00b3", "9" * 5000], ids=["a superscript three", "5000 digits"])
def test_frames_python_cannot_read_as_a_number_are_one_line(prod, capsys, frames: str) -> None:
    """'³' is a digit to str.isdigit but not to int(), and int() refuses 5000 digits: each was a ValueError
    traceback."""
    root = prod()
    assert compositor(root, capsys, "render", CUT, "--frames", frames) == (
        1, [f"shots/t1/shot.toml: --frames {frames}: write frames as 12, 12-36 or 1-5,9 (timesheet numbers)"]
    )  # fmt: skip


def test_frames_of_a_cut_numbered_below_zero_can_be_asked_for(prod, capsys) -> None:
    """A cut may start at a negative timesheet number (``start``); its frames could not be named (``-2``
    was "write frames as ...")."""
    root = prod(SHOT.replace("frames = 4", "frames = 4\nstart = -2"))
    assert compositor(root, capsys, "render", CUT, "--frames", "-2--1,1") == (0, [])
    comp = sorted(p.name for p in (root / "render" / CUT / "comp").glob("*.png"))
    assert len(comp) == 3, comp


# ------------------------------------------------------------------------------------------------------------
# How a spec file is stored


def test_a_spec_saved_with_a_byte_order_mark_is_read(prod, capsys) -> None:
    """Notepad's "UTF-8 with BOM" was "not valid TOML: Invalid statement (at line 1, column 1)", in a file that
    looks right in every editor: the mark is dropped, as most TOML readers do."""
    root = prod()
    for name in (f"{CUT}/shot.toml", "edit.toml"):
        path = root / "shots" / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert compositor(root, capsys, "validate") == (0, [])


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc/self/mem (reads fail with EIO)")
def test_a_spec_that_cannot_be_read_is_one_line(prod, capsys) -> None:
    """An I/O error reading shot.toml was an OSError traceback (here a link to a file every read of which fails)."""
    root = prod()
    spec = root / "shots" / CUT / "shot.toml"
    spec.unlink()
    spec.symlink_to("/proc/self/mem")
    assert compositor(root, capsys, "validate") == (
        1, ["shots/t1/shot.toml: cannot read: Input/output error (the disk reported an input/output error: check it)"]
    )  # fmt: skip


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc/self/mem (reads fail with EIO)")
def test_a_drawing_that_cannot_be_read_is_one_line(prod, capsys, monkeypatch) -> None:
    """A drawing that cannot be read (permission denied for the user, an I/O error) gave two lines in validate:
    "cannot decode drawing 3 ... (cannot read the file (...))" from its header and "cannot read: ..." from its
    pixels. Here it is a link to a file every read of which fails, in a folder the edit's ``roots`` allows (the
    tests run as root, whom chmod 000 does not stop)."""
    root = prod(SHOT.replace('timing = "1 2 . 1"', 'timing = "1 2 3 1"'))
    edit = root / "shots/edit.toml"
    edit.write_text(edit.read_text().replace("slate = 0\n", 'slate = 0\nroots = ["/proc/self"]\n'))
    (root / "shots" / CUT / "cels/A/A_0003.png").symlink_to("/proc/self/mem")
    monkeypatch.chdir(root)  # the line names the file from where the command runs
    line = "shots/t1/cels/A/A_0003.png: cannot read: Input/output error (the disk reported an input/output error: check it)"
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])


# ------------------------------------------------------------------------------------------------------------
# The screening cut


@pytest.mark.parametrize(
    ("own", "line"),
    [
        ("size = [48, 36]", "shots/b1/shot.toml: shot.size: 48x36, but the screening cut (shots/edit.toml) is 32x24 "
         "and joins its cuts as they are (leave size out to take the edit's)"),
        ("fps = 25", "shots/b1/shot.toml: shot.fps: 25 fps, but the screening cut (shots/edit.toml) is 24 fps and "
         "joins its cuts as they are (leave fps out to take the edit's)"),
    ],
    ids=["size", "fps"],
)
def test_a_cut_the_screening_cut_cannot_join_is_refused_by_validate(production_factory, capsys, own, line) -> None:
    """A cut of another size or rate passed validate and rendered; only `compositor cut`, after every cut was
    made, said "render/b1/b1.mp4: is h264 yuv420p 48x36 at 24 fps, but the screening cut ... needs ...". A cut
    outside the edit may differ."""
    root = production_factory({CUT: SHOT, "b1": SHOT.replace("frames = 4", f"frames = 4\n{own}")})
    for cut in (CUT, "b1"):
        write_grid(root / "shots" / cut / "cels/A/A_0001.png", "RR\nRR")
        write_grid(root / "shots" / cut / "cels/A/A_0002.png", "GG\nGG")
    assert compositor(root, capsys, "validate") == (1, [line])
    edit = root / "shots/edit.toml"
    edit.write_text(edit.read_text().replace('cuts = ["t1", "b1"]', 'cuts = ["t1"]'))
    assert compositor(root, capsys, "validate") == (0, [])


@pytest.mark.parametrize("hold", [False, True], ids=["gap refused", "hold_missing"])
def test_a_stray_frame_numbered_far_past_a_plate_sequence_is_one_line(prod, capsys, hold: bool) -> None:
    """A stray ``bg.99999999999.png`` beside a plate sequence: with ``hold_missing`` it made a list of 10^11
    paths (memory until the machine gave out)."""
    spec = SHOT.replace('source = "procedural"', 'source = "plate"\nplate = "plates/bg.%04d.png"')
    root = prod(spec.replace("seed = 7", "seed = 7\nhold_missing = true") if hold else spec)
    for i in (1, 2, 3, 4, 99999999999):
        write_grid(root / "shots" / CUT / f"plates/bg.{i:04d}.png", "BB\nBB")
    code, lines = compositor(root, capsys, "validate")
    assert code == 1 and len(lines) == 1, lines
    if hold:
        assert lines == [
            "shots/t1/shot.toml: background.plate: 'bg.%04d.png' is numbered 1-99999999999, more frames than a cut "
            "may have (1000000): is 'bg.99999999999.png' one of its frames?"
        ]


def test_a_folder_named_like_a_plate_frame_is_a_missing_frame(prod, capsys) -> None:
    """A folder ``plates/bg.0003.png/`` was "frame 3: cannot decode ... (a folder ...)" in validate but "pl/.../
    bg.0003.png: cannot read: Is a directory" in render (its key read it first): now the missing frame, alike."""
    spec = SHOT.replace('source = "procedural"', 'source = "plate"\nplate = "plates/bg.%04d.png"')
    root = prod(spec)
    for i in (1, 2, 4):
        write_grid(root / "shots" / CUT / f"plates/bg.{i:04d}.png", "BB\nBB")
    (root / "shots" / CUT / "plates/bg.0003.png").mkdir()
    line = ("shots/t1/shot.toml: background.plate: frame 3 ('bg.0003.png') is missing from 'bg.%04d.png', numbered "
            "1-4 (hold_missing = true in [background] holds the frame before)")  # fmt: skip
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])


def test_cels_naming_a_drawing_instead_of_its_folder_says_so(prod, capsys) -> None:
    """``cels = "cels/A/A_0001.png"`` was "...: no such cel folder", about a file that is there."""
    root = prod(SHOT.replace('cels = "cels/A"', 'cels = "cels/A/A_0001.png"'))
    code, lines = compositor(root, capsys, "validate")
    assert code == 1 and len(lines) == 1 and lines[0].endswith("cels/A/A_0001.png: a file, not a folder of drawings"), lines


def _png_with_stream(pixels: np.ndarray, stream: bytes) -> bytes:
    """An 8-bit RGBA PNG of ``pixels``' size whose one IDAT chunk holds ``stream`` (its checksum right)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


@pytest.mark.parametrize("where", ["a byte inside", "the Adler-32 checksum"])
def test_image_data_that_does_not_inflate_is_one_line_on_stderr(prod, capfd, where: str) -> None:
    """Image data damaged with its chunk's checksum right (a writer's bug, not a bad copy): the fast reader left
    it to OpenCV, whose libpng printed "libpng error: IDAT: incorrect data check" above the error line. OpenCV
    refuses such a file, so the fast reader now says so itself."""
    root = prod(SHOT.replace('timing = "1 2 . 1"', 'timing = "1 2 2 1"'))
    pixels = np.random.default_rng(2).integers(0, 256, (6, 5, 4), np.uint8)
    stream = bytearray(zlib.compress(b"".join(b"\0" + row.tobytes() for row in pixels)))
    stream[len(stream) // 2 if where == "a byte inside" else -1] ^= 0xFF
    data = _png_with_stream(pixels, bytes(stream))
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None  # what OpenCV makes of it
    (root / "shots" / CUT / "cels/A/A_0002.png").write_bytes(data)
    reason = "damaged: its image data does not inflate (the compressed stream is broken)"
    line = f"error: shots/t1/cels/A/A_0002.png: cannot decode drawing 2 of layer 'A' ({reason})"
    assert every_line(root, capfd, "validate") == (1, [line])


def test_a_header_no_png_has_is_one_line_on_stderr(prod, capfd) -> None:
    """A 16-bit drawing whose header says 7 bits (its checksum right): libpng printed "libpng warning: Invalid
    bit depth in IHDR" and "libpng error: Invalid IHDR data" above the error line."""
    root = prod(SHOT.replace('timing = "1 2 . 1"', 'timing = "1 2 2 1"'))
    pixels = np.random.default_rng(2).integers(0, 65536, (6, 5, 3), np.uint16)
    data = bytearray(cv2.imencode(".png", pixels)[1].tobytes())
    data[24] = 7  # IHDR's bit depth
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    (root / "shots" / CUT / "cels/A/A_0002.png").write_bytes(bytes(data))
    reason = "damaged: its header (IHDR) holds 7-bit colour type 2, compression 0, filter 0, interlace 0, which no PNG has"
    line = f"error: shots/t1/cels/A/A_0002.png: cannot decode drawing 2 of layer 'A' ({reason})"
    assert every_line(root, capfd, "validate") == (1, [line])
