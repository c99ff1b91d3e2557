"""A corpus of broken and unusual productions, as an adversarial user makes them.

Each case starts from a copy of one rendered production, breaks one thing, and runs the commands a user would
(`compositor validate`, then the render). Every case must end with exit status 1, one `error:` line a problem
naming the file and the key (or frame), no traceback, and every output rendered before intact, byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import make_production, write_flat, write_grid

CUT = "sc010_c010"
SPEC = """
[shot]
frames = 6

[background]
source = "plate"
plate = "plates/bg.png"

[camera]
keys = [ { frame = 1, x = 24, y = 16 }, { frame = 6, x = 26, y = 16 } ]

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 . 2 . 3 ."
position = [4, 4]

[[effects]]
type = "glow"
strength = 0.3
radius = 4
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    root = make_production(tmp_path_factory.mktemp("corpus") / "prod", {CUT: SPEC}, size=(48, 32))
    write_flat(root / f"shots/{CUT}/plates/bg.png", (48, 32), (40, 60, 80))
    for n, colour in ((1, "R"), (2, "G"), (3, "B")):
        write_grid(root / f"shots/{CUT}/cels/A/A_000{n}.png", "\n".join([colour * 6] * 5))
    run = subprocess.run([sys.executable, "-m", "compositor", "cut"], cwd=root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (root / "render").rglob("*")
        # the rendered pictures and movies (a manifest, make's "done" mark, is removed while its step reruns)
        if p.is_file() and p.suffix in (".png", ".mp4") and "cache" not in p.parts
    }


def spec(old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / f"shots/{CUT}/shot.toml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return change


def edit(old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / "shots/edit.toml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return change


def write(relative: str, data: bytes | str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    return change


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        for c in changes:
            c(root)

    return change


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def symlink_outside(relative: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        outside = root.parent / "outside.png"
        shutil.copyfile(root / f"shots/{CUT}/cels/A/A_0001.png", outside)
        link = root / relative
        link.unlink(missing_ok=True)
        link.symlink_to(outside)

    return change


def sequence_with_gap(root: Path) -> None:
    for n in (1, 2, 3, 5, 6, 7):
        write_flat(root / f"shots/{CUT}/plates/seq.{n:04d}.png", (48, 32), (10 * n, 0, 0))
    spec('plate = "plates/bg.png"', 'plate = "plates/seq.%04d.png"')(root)


def short_sequence(root: Path) -> None:
    for n in (1, 2, 3):
        write_flat(root / f"shots/{CUT}/plates/seq.{n:04d}.png", (48, 32), (10 * n, 0, 0))
    spec('plate = "plates/bg.png"', 'plate = "plates/seq.%04d.png"')(root)


def retouch_of_size(width: int, height: int) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        write_flat(root / f"shots/{CUT}/plates/retouch.png", (width, height), (255, 255, 255))
        spec('plate = "plates/bg.png"', 'plate = "plates/bg.png"\nretouch = "plates/retouch.png"')(root)

    return change


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[Path], None]
    expect: str
    """A part of the error line: the file and the key (or frame) it names."""
    commands: tuple[tuple[str, ...], ...] = (("validate",), ("render", CUT))


SHOT = f"shots/{CUT}/shot.toml"
CASES = [
    # shot.toml: syntax and keys
    Case("toml-syntax", spec("frames = 6", "frames = = 6"), f"{SHOT}: not valid TOML"),
    Case("toml-not-utf8", write(SHOT, b"[shot]\nframes = 6\n# \xff\xfe\n"), f"{SHOT}: not valid TOML"),
    Case("unknown-key", spec("frames = 6", "frames = 6\nframez = 7"), f"{SHOT}: shot.framez: unknown key"),
    Case("unknown-section", spec("[shot]", "[shoot]\nx = 1\n[shot]"), f"{SHOT}: shoot: unknown key"),
    Case("frames-zero", spec("frames = 6", "frames = 0"), f"{SHOT}: shot.frames"),
    Case("frames-negative", spec("frames = 6", "frames = -3"), f"{SHOT}: shot.frames"),
    Case("frames-text", spec("frames = 6", 'frames = "six"'), f"{SHOT}: shot.frames"),
    Case("frames-huge", spec("frames = 6", "frames = 20000000"), f"{SHOT}: shot.frames"),
    Case("fps-inf", spec("frames = 6", "frames = 6\nfps = inf"), f"{SHOT}: shot.fps"),
    Case("fps-nan", spec("frames = 6", "frames = 6\nfps = nan"), f"{SHOT}: shot.fps"),
    Case("fps-zero", spec("frames = 6", "frames = 6\nfps = 0"), f"{SHOT}: shot.fps"),
    Case("size-zero", spec("frames = 6", "frames = 6\nsize = [0, 32]"), f"{SHOT}: shot.size"),
    Case("size-one-number", spec("frames = 6", "frames = 6\nsize = [48]"), f"{SHOT}: shot.size"),
    Case("size-huge", spec("frames = 6", "frames = 6\nsize = [100000, 32]"), f"{SHOT}: shot.size"),
    # background
    Case("source-unknown", spec('source = "plate"', 'source = "paint"'), f"{SHOT}: background.source"),
    Case("plate-missing-key", spec('plate = "plates/bg.png"', ""), f"{SHOT}: background"),
    Case("plate-no-file", spec("plates/bg.png", "plates/nope.png"), f"{SHOT}: background.plate"),
    Case("plate-outside", spec("plates/bg.png", "../../../outside.png"), f"{SHOT}: background.plate"),
    Case("plate-absolute", spec("plates/bg.png", "/etc/hostname"), f"{SHOT}: background.plate"),
    Case("plate-corrupt", write(f"shots/{CUT}/plates/bg.png", b"\x89PNG\r\n\x1a\nnot really"), "plates/bg.png"),
    Case("plate-empty-file", write(f"shots/{CUT}/plates/bg.png", b""), "plates/bg.png"),
    Case("plate-sequence-gap", sequence_with_gap, "seq.0004"),
    Case("plate-sequence-short", short_sequence, f"{SHOT}: background.plate"),
    Case("canvas-smaller", spec('plate = "plates/bg.png"', 'plate = "plates/bg.png"\ncanvas = [40, 32]'), f"{SHOT}: background.canvas"),
    Case("canvas-huge", spec('plate = "plates/bg.png"', 'plate = "plates/bg.png"\ncanvas = [16000, 16000]'), f"{SHOT}: background.canvas"),
    Case("style-unknown", spec('source = "plate"', 'source = "plate"\nstyle = "nope"'), f"{SHOT}: background.style"),
    Case("retouch-wrong-size", retouch_of_size(20, 20), "background.retouch"),
    Case("retouch-no-file", spec('plate = "plates/bg.png"', 'plate = "plates/bg.png"\nretouch = "plates/none.png"'), f"{SHOT}: background.retouch"),
    # camera
    Case("camera-key-outside", spec("frame = 6, x = 26", "frame = 9, x = 26"), f"{SHOT}: camera.keys[1].frame"),
    Case("camera-keys-backwards", spec("frame = 6, x = 26", "frame = 1, x = 26"), f"{SHOT}: camera.keys"),
    Case("camera-zoom-zero", spec("x = 24, y = 16 }", "x = 24, y = 16, zoom = 0 }"), f"{SHOT}: camera.keys[0].zoom"),
    Case("camera-x-inf", spec("x = 24, y = 16 }", "x = inf, y = 16 }"), f"{SHOT}: camera.keys[0].x"),
    Case("camera-y-nan", spec("x = 24, y = 16 }", "x = 24, y = nan }"), f"{SHOT}: camera.keys[0].y"),
    Case("camera-ease-unknown", spec("x = 26, y = 16 }", 'x = 26, y = 16, ease = "bounce" }'), f"{SHOT}: camera.keys[1].ease"),
    # layers and timesheets
    Case("timing-long", spec('"1 . 2 . 3 ."', '"1 . 2 . 3 . 3"'), f"{SHOT}: layers[0].timing: 7 frames"),
    Case("timing-short", spec('"1 . 2 . 3 ."', '"1 . 2"'), f"{SHOT}: layers[0].timing: 3 frames"),
    Case("timing-bad-token", spec('"1 . 2 . 3 ."', '"1 . z . 3 ."'), f"{SHOT}: layers[0].timing"),
    Case("timing-billion-hold", spec('"1 . 2 . 3 ."', '"1@999999999"'), f"{SHOT}: layers[0].timing"),
    Case("timing-billion-cycle", spec('"1 . 2 . 3 ."', '"(1 2)*99999999999"'), f"{SHOT}: layers[0].timing"),
    Case("timing-huge-range", spec('"1 . 2 . 3 ."', '"1-300000000"'), f"{SHOT}: layers[0].timing"),
    Case("drawing-missing", spec('"1 . 2 . 3 ."', '"1 . 2 . 9 ."'), f"{SHOT}: layers[0].timing: layer 'A', frame 5: drawing 9"),
    Case("cels-folder-missing", spec('cels = "cels/A"', 'cels = "cels/Z"'), f"{SHOT}: layers[0].cels"),
    Case("cels-outside", spec('cels = "cels/A"', 'cels = "../../.."'), f"{SHOT}: layers[0].cels"),
    Case("layer-opacity", spec('position = [4, 4]', "position = [4, 4]\nopacity = 2"), f"{SHOT}: layers[0].opacity"),
    Case("layer-blend", spec('position = [4, 4]', 'position = [4, 4]\nblend = "overlay"'), f"{SHOT}: layers[0].blend"),
    Case("layer-scale-zero", spec('position = [4, 4]', "position = [4, 4]\nscale = 0"), f"{SHOT}: layers[0].scale"),
    Case("layer-scale-huge", spec('position = [4, 4]', "position = [4, 4]\nscale = 1000"), f"{SHOT}: layers[0].scale"),
    Case("layer-blur-huge", spec('position = [4, 4]', "position = [4, 4]\nblur = 1e9"), f"{SHOT}: layers[0].blur"),
    Case("layer-position-inf", spec('position = [4, 4]', "position = [inf, 4]"), f"{SHOT}: layers[0].position"),
    Case("layer-name-twice", spec('position = [4, 4]', 'position = [4, 4]\n[[layers]]\nname = "A"\ncels = "cels/A"\ntiming = "1@6"'), f"{SHOT}: layers[0].name"),
    Case("motion-backwards", spec('position = [4, 4]', "position = [4, 4]\nmotion = [ { frame = 3, x = 0, y = 0 }, { frame = 2, x = 1, y = 1 } ]"), f"{SHOT}: layers[0].motion"),
    # effects and presets
    Case("effect-unknown", spec('type = "glow"', 'type = "bloom"'), f"{SHOT}: effects[0].type"),
    Case("glow-radius-huge", spec("radius = 4", "radius = 1e12"), f"{SHOT}: effects[0].radius"),
    Case("effect-tint-nan", spec("radius = 4", "radius = 4\ntint = [1, nan, 1]"), f"{SHOT}: effects[0].tint"),
    Case("cut-preset-missing", spec("[shot]", 'encode = "nope"\n[shot]'), f"{SHOT}: encode"),
    # drawings as files
    Case("cel-corrupt", write(f"shots/{CUT}/cels/A/A_0002.png", b"\x89PNG\r\n\x1a\nthis is not a png"), f"shots/{CUT}/cels/A/A_0002.png"),
    Case("cel-empty", write(f"shots/{CUT}/cels/A/A_0003.png", b""), f"shots/{CUT}/cels/A/A_0003.png"),
    Case("cel-text", write(f"shots/{CUT}/cels/A/A_0001.png", "hello"), f"shots/{CUT}/cels/A/A_0001.png"),
    Case("cel-giant-header", write(f"shots/{CUT}/cels/A/A_0002.png", _png_header(60000, 60000)), f"shots/{CUT}/cels/A/A_0002.png"),
    Case("cel-number-twice", write(f"shots/{CUT}/cels/A/A0002.png", b"\x89PNG"), "drawing 2"),
    Case("cel-symlink-outside", symlink_outside(f"shots/{CUT}/cels/A/A_0002.png"), "A_0002.png"),
    # the edit
    Case("edit-syntax", edit("fps = 24", "fps = = 24"), "shots/edit.toml: not valid TOML"),
    Case("edit-cut-missing", edit(f'cuts = ["{CUT}"]', f'cuts = ["{CUT}", "sc099_c010"]'), "shots/edit.toml: edit.cuts[1]"),
    Case("edit-cut-outside", edit(f'cuts = ["{CUT}"]', f'cuts = ["{CUT}", "../../out"]'), "shots/edit.toml: edit.cuts[1]"),
    Case("edit-cut-injection", edit(f'cuts = ["{CUT}"]', f'cuts = ["{CUT}", "a$(shell touch PWNED)"]'), "shots/edit.toml: edit.cuts[1]"),
    Case("edit-cut-twice", edit(f'cuts = ["{CUT}"]', f'cuts = ["{CUT}", "{CUT}"]'), "shots/edit.toml: edit.cuts"),
    Case("edit-fps-inf", edit("fps = 24", "fps = inf"), "shots/edit.toml: edit.fps"),
    Case("edit-slate-huge", edit("slate = 0", "slate = 1e6"), "shots/edit.toml: edit.slate"),
    Case("edit-preset-missing", edit("slate = 0", 'slate = 0\nencode = "nope"'), "shots/edit.toml: edit.encode"),
    Case("edit-audio-missing", edit("slate = 0", 'slate = 0\naudio = "mix.wav"'), "shots/edit.toml: edit.audio"),
    Case("edit-audio-outside", edit("slate = 0", 'slate = 0\naudio = "../../mix.wav"'), "shots/edit.toml: edit.audio"),
    # templates
    Case("preset-unknown-key", write("templates/encode/screening.toml", "crff = 18\n"), "templates/encode/screening.toml: crff"),
    Case("preset-crf-range", write("templates/encode/screening.toml", "crf = 99\n"), "templates/encode/screening.toml: crf"),
    Case("preset-pix-fmt", write("templates/encode/screening.toml", 'pix_fmt = "rgb24"\n'), "templates/encode/screening.toml: pix_fmt"),
    # (a style no cut uses: the render of a plate cut goes on; validate reports it)
    Case("style-bad-colour", write("templates/styles/dusk.toml", '[procedural]\nsky = ["#12", "#ffffff"]\n'), "templates/styles/dusk.toml: procedural.sky", (("validate",),)),
    Case("style-unknown-key", write("templates/styles/dusk.toml", "[procedural]\ncloudz = 1\n"), "templates/styles/dusk.toml: procedural.cloudz", (("validate",),)),
    # the command line
    Case("cli-cut-dotdot", lambda root: None, "'../../x'", (("render", "../../x"),)),
    Case("cli-cut-absolute", lambda root: None, "'/tmp/x'", (("render", "/tmp/x"),)),
    Case("cli-cut-unknown", lambda root: None, "shots/sc099_c010/shot.toml", (("render", "sc099_c010"),)),
    Case("cli-preset-unknown", lambda root: None, "templates/encode/nope.toml", (("encode", CUT, "--preset", "nope"),)),
    Case("cli-export-through-file", write("afile", "x"), "afile", (("bg", CUT, "--export", "afile/sub"),)),
    Case("cli-deps-through-file", write("afile", "x"), "afile", (("deps", "--output", "afile/deps.mk"),)),
]


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


def run_cli(args: tuple[str, ...], cwd: Path) -> tuple[int, str]:
    """``compositor ARGS`` in this process (the same ``main`` the command runs, minus the interpreter's start):
    its exit status and what it wrote on stderr. An exception that escapes ``main`` fails the test: it would
    have been a traceback."""
    import contextlib
    import io

    from compositor.cli import main

    stderr = io.StringIO()
    here, argv = Path.cwd(), sys.argv
    try:
        os.chdir(cwd)
        sys.argv = ["compositor", *args]
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                main()
                code = 0
            except SystemExit as e:
                code = int(e.code or 0)
    finally:
        os.chdir(here)
        sys.argv = argv
    return code, stderr.getvalue()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_broken_production_is_one_line_and_loses_nothing(case: Case, rendered: Path, tmp_path: Path) -> None:
    root = tmp_path / "prod"
    shutil.copytree(rendered, root, symlinks=True)
    before = _snapshot(root)
    case.change(root)
    for command in case.commands:
        code, stderr = run_cli(command, root)
        where = f"{' '.join(command)}: {stderr}"
        assert code == 1, where
        lines = stderr.strip().splitlines()
        assert lines and all(line.startswith("error: ") for line in lines), where
        assert any(case.expect in line for line in lines), where
    assert not list(root.parent.rglob("PWNED*"))
    after = _snapshot(root)
    assert {k: v for k, v in after.items() if k in before} == before  # what was rendered is intact


def test_the_command_itself_says_one_line(rendered: Path, tmp_path: Path) -> None:
    """The same contract through a real process: exit status 1, one line, no traceback."""
    root = tmp_path / "prod"
    shutil.copytree(rendered, root, symlinks=True)
    write(f"shots/{CUT}/cels/A/A_0002.png", b"\x89PNG\r\n\x1a\nthis is not a png")(root)
    run = subprocess.run([sys.executable, "-m", "compositor", "render", CUT], cwd=root, capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: shots/{CUT}/cels/A/A_0002.png: cannot decode drawing 2 of layer 'A' (corrupt or not an image)"
    ]
