"""Nothing silently wrong, no tracebacks, nothing left behind (issue "Reliability and security").

A file system that refuses a write (full, read-only, a file where a folder goes) is one line naming the path
and what to do, exit 1, and leaves no half-written file; a render killed anywhere leaves only whole outputs
and resumes to the bytes an uninterrupted render makes; a temporary file or folder of a process that is gone
is removed by the next run; two renders of one production in two folders agree byte for byte.

The full-disk and read-only cases mount a small tmpfs on the production's ``render/`` (CI runs as root); where
mounting is not allowed they skip, saying so.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.core.io import read_png_key
from compositor.steps.encode import probe
from tests.conftest import make_production, write_grid

CUT = "sc010_c010"
NOISE = "sc020_c010"

SMALL = """
[shot]
frames = 24

[background]
source = "plate"
plate = "plates/bg.png"
canvas = [96, 48]

[camera]
keys = [ { frame = 1, x = 32, y = 24 }, { frame = 24, x = 64, y = 24, ease = "in-out" } ]

[[layers]]
name = "A"
cels = "cels/A"
timing = "(1 2 3 2)*"
position = [6, 10]

[[layers]]
name = "B"
cels = "cels/B"
timing = "1@6 2@6 x@6 1@6"
parallax = 0
position = [40, 20]
blend = "multiply"
"""

NOISY = """
[shot]
frames = 12
size = [320, 240]

[background]
source = "plate"
plate = "plates/noise.png"

[[effects]]
type = "grain"
strength = 0.6
"""
"""A cut whose frames do not compress: about 230 KB a comp frame, 2.8 MB for the cut."""


def production(root: Path, noisy: bool = False, slate: float = 0) -> Path:
    cuts = {CUT: SMALL, **({NOISE: NOISY} if noisy else {})}
    make_production(root, cuts, edit_extra='title = "Reliable"\n', size=(64, 48))
    edit = root / "shots" / "edit.toml"
    edit.write_text(edit.read_text().replace("slate = 0\n", f"slate = {slate}\n"))
    folder = root / "shots" / CUT
    ramp = np.zeros((48, 96, 3), np.uint8)
    ramp[:, :, 0] = np.linspace(20, 220, 96)[None, :].astype(np.uint8)
    ramp[:, :, 1] = np.linspace(200, 40, 48)[:, None].astype(np.uint8)
    (folder / "plates").mkdir(parents=True)
    cv2.imwrite(str(folder / "plates" / "bg.png"), ramp)
    write_grid(folder / "cels/A/A_0001.png", "RRR.\nRRRR\n.RR.")
    write_grid(folder / "cels/A/A_0002.png", "GGG.\nGGGG\n.hh.")
    write_grid(folder / "cels/A/A_0003.png", "BBB.\nBBBB\n.BB.")
    write_grid(folder / "cels/B/B_0001.png", "YYYYY\nY...Y\nYYYYY")
    write_grid(folder / "cels/B/B_0002.png", "WWWWW\nWKKKW\nWWWWW")
    if noisy:
        noise = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
        (root / "shots" / NOISE / "plates").mkdir(parents=True)
        cv2.imwrite(str(root / "shots" / NOISE / "plates" / "noise.png"), noise)
    return root


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "compositor", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def hidden(root: Path) -> list[str]:
    """``find render -name '.*'``: temporary files and folders (every one of them is hidden)."""
    render = root / "render"
    return sorted(str(p.relative_to(render)) for p in render.rglob(".*")) if render.is_dir() else []


def tree(root: Path, skip: tuple[str, ...] = (".log", ".run.json")) -> dict[str, bytes]:
    """Every file under ``render/`` by path, with its bytes (logs and run records aside: they hold timings)."""
    render = root / "render"
    return {
        str(p.relative_to(render)): p.read_bytes()
        for p in sorted(render.rglob("*"))
        if p.is_file() and not p.name.endswith(skip)
    }


def one_error_line(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 1, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    return errors[0]


def _mount_tmpfs(folder: Path, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no `mount` command here: cannot make a small file system to fill")
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
        )
    except OSError as e:
        pytest.skip(f"cannot run mount here ({e.strerror})")
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN): {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A production whose ``render/`` is a 2 MB tmpfs; unmounted afterwards."""
    root = production(tmp_path / "prod", noisy=True)
    render = root / "render"
    _mount_tmpfs(render, "2m")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(render)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system holding ``folder`` up to its last byte; returns the filler file."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as f:
        block = b"\0" * 65536
        while block:
            try:
                f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                block = block[: len(block) // 2]
    return filler


# ------------------------------------------------------------------------------------------------------------
# Paths through files


def test_an_export_through_a_file_is_one_line(tmp_path: Path) -> None:
    root = production(tmp_path / "prod")
    (root / "some_file").write_text("not a folder")
    run = cli(root, "bg", CUT, "--export", "some_file/sub")
    assert one_error_line(run) == (
        "error: some_file/sub: cannot write: some_file is a file, not a folder (move it away, or choose another path)"
    )
    assert (root / "some_file").read_text() == "not a folder"


def test_a_dependency_file_through_a_file_is_one_line(tmp_path: Path) -> None:
    root = production(tmp_path / "prod")
    (root / "some_file").write_text("not a folder")
    run = cli(root, "deps", "--output", "some_file/x")
    assert one_error_line(run) == (
        "error: some_file/x: cannot write: some_file is a file, not a folder (move it away, or choose another path)"
    )


def test_an_os_error_of_the_machine_is_one_line_but_a_bug_keeps_its_traceback() -> None:
    from compositor.cli import _environment_error

    line = _environment_error(OSError(errno.ENOSPC, "No space left on device", "render/x.png"))
    assert line == "render/x.png: No space left on device (free some space on that disk, then run again)"
    line = _environment_error(PermissionError(errno.EACCES, "Permission denied", "shots/sc010_c010/shot.toml"))
    assert line == "shots/sc010_c010/shot.toml: Permission denied (check the permissions of the file and its folder)"
    assert _environment_error(OSError(errno.ENOENT, "No such file or directory", "x")) is None
    assert _environment_error(OSError(errno.ENOSPC, "No space left on device")) is None  # no path to name


# ------------------------------------------------------------------------------------------------------------
# Full disk, read-only file system


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(small_disk: Path) -> None:
    root = small_disk
    assert cli(root, "render", CUT).returncode == 0
    before = tree(root)
    run = cli(root, "render", NOISE)  # 2 MB of frames do not fit beside the first cut
    line = one_error_line(run)
    assert re.fullmatch(
        rf"error: render/(cache|{NOISE})/\S+: cannot write: No space left on device "
        r"\(free some space on that disk, then run again\)",
        line,
    ), line
    assert hidden(root) == []  # no temporary file, no `.*.part*`
    for frame in (root / "render" / NOISE / "comp").glob(f"{NOISE}.*.png"):  # whatever got in is whole
        assert cv2.imread(str(frame)) is not None and read_png_key(frame) is not None
    after = tree(root)
    assert {k: v for k, v in after.items() if k in before} == before  # what was rendered is intact


def test_a_full_disk_while_encoding_is_one_line_and_leaves_no_partial_file(small_disk: Path) -> None:
    root = small_disk
    assert cli(root, "render", CUT).returncode == 0
    before = tree(root)
    filler = fill(root / "render")
    run = cli(root, "encode", CUT, "--preset", "master")  # every frame is fresh: ffmpeg's write is the one
    line = one_error_line(run)
    assert re.fullmatch(
        rf"error: render/{CUT}/(segments/master/{CUT}\.0001-0024\.\w+\.mp4|{CUT}\.master\.mp4): cannot write: "
        r"No space left on device \(free some space on that disk, then run again\)",
        line,
    ), line
    filler.unlink()
    assert hidden(root) == []
    assert tree(root) == before
    assert cli(root, "encode", CUT, "--preset", "master").returncode == 0  # with room again, it is made
    assert probe(root / "render" / CUT / f"{CUT}.master.mp4")["frames"] == 24


def test_a_read_only_file_system_is_one_line(small_disk: Path) -> None:
    root = small_disk
    assert cli(root, "render", CUT).returncode == 0
    before = tree(root)
    write_grid(root / "shots" / CUT / "cels/A/A_0002.png", "KKK.\nKKKK\n.KK.")  # frames to composite again
    remount = subprocess.run(["mount", "-o", "remount,ro", str(root / "render")], capture_output=True, text=True)
    if remount.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only here: {remount.stderr.strip()}")
    run = cli(root, "render", CUT)
    line = one_error_line(run)
    assert re.fullmatch(
        rf"error: render/{CUT}/\S+: cannot write: Read-only file system "
        r"\(the file system is mounted read-only: render on a writable one\)",
        line,
    ), line
    assert tree(root) == before


# ------------------------------------------------------------------------------------------------------------
# Leftovers


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_nothing_is_left_behind_after_success_failure_or_a_dead_process(tmp_path: Path) -> None:
    root = production(tmp_path / "prod", slate=0.25)
    for _ in range(3):  # re-running the background step used to leave `.bg.0001.png.part<pid>`
        assert cli(root, "bg", CUT).returncode == 0
    assert hidden(root) == []
    run = cli(root, "cut")
    assert run.returncode == 0, run.stderr
    assert hidden(root) == []

    # What killed runs leave: temporaries of a process that is gone, in every folder the steps write in.
    dead = _dead_pid()
    render = root / "render"
    segments = next((render / CUT / "segments").iterdir())
    leftovers = [
        render / CUT / "bg" / f".bg.0001.png.part{dead}",
        render / CUT / "comp" / f".{CUT}.0003.part{dead}.png",
        render / CUT / f".{CUT}.part{dead}.mp4",
        segments / f".{CUT}.0001-0012.0123456789abcdef01234567.part{dead}.mp4",
        segments / f".concat.part{dead}.txt",
        render / f".tiny.part{dead}.mp4",
        render / f".deps.part{dead}.mk",
        render / "tiny.thumbs" / f".{CUT}.part{dead}.png",
    ]
    for path in leftovers:
        path.write_bytes(b"half")
    for folder in (render / f".cut-tiny.part{dead}", render / ".cut-k2j3h4l5"):  # the screening cut's work
        folder.mkdir()
        (folder / "slate.mp4").write_bytes(b"half")
    alive = render / CUT / "comp" / f".{CUT}.0004.part{os.getppid()}.png"  # a running process's: kept
    alive.write_bytes(b"being written")
    write_grid(root / "shots" / CUT / "cels/A/A_0003.png", "KKK.\nKKKK\n.KK.")  # something to do
    run = cli(root, "cut")
    assert run.returncode == 0, run.stderr
    assert hidden(root) == [str(alive.relative_to(render))]
    alive.unlink()

    # A failure: a corrupt drawing stops the render with one line and leaves nothing half-written.
    (root / "shots" / CUT / "cels/B/B_0002.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a png")
    run = cli(root, "render", CUT)
    assert one_error_line(run) == (
        f"error: shots/{CUT}/cels/B/B_0002.png: cannot decode drawing 2 of layer 'B' (corrupt or not an image)"
    )
    assert hidden(root) == []


# ------------------------------------------------------------------------------------------------------------
# Killed anywhere, resumed to the same bytes


def _whole_outputs_only(root: Path) -> None:
    """No final name holds a partial file: every comp frame decodes and carries a key, every segment and movie
    holds all its frames."""
    render = root / "render" / CUT
    for frame in (render / "comp").glob(f"{CUT}.*.png"):
        assert cv2.imread(str(frame)) is not None, frame
        assert read_png_key(frame) is not None, frame
    for segment in (render / "segments").rglob(f"{CUT}.*.mp4"):
        first, last = (int(n) for n in segment.name.split(".")[1].split("-"))
        assert probe(segment, count_frames=True)["frames"] == last - first + 1, segment
    movie = render / f"{CUT}.mp4"
    if movie.exists():
        assert probe(movie, count_frames=True)["frames"] == 24
    if (render / "comp" / "comp.json").exists():
        assert len(list((render / "comp").glob(f"{CUT}.*.png"))) == 24


RETOUCHES = [  # drawings changed between the rounds, so that each round finds work to be killed in
    ("cels/A/A_0001.png", "KKK.\nKRRR\n.RR."),
    ("cels/A/A_0003.png", "BBB.\nBWWB\n.BB."),
    ("cels/B/B_0001.png", "YYYYY\nYRRRY\nYYYYY"),
]


def test_a_render_killed_anywhere_resumes_to_the_bytes_of_an_uninterrupted_one(tmp_path: Path) -> None:
    clean = production(tmp_path / "clean")
    for name, letters in RETOUCHES:
        write_grid(clean / "shots" / CUT / name, letters)
    run = cli(clean, "render", CUT)
    assert run.returncode == 0, run.stderr
    reference = tree(clean)

    killed = production(tmp_path / "killed")
    folder = killed / "render" / CUT
    patterns = {  # a moment is when a file matching it appears that was not there when the round started
        "first frame written": (folder / "comp", f"{CUT}.*.png"),
        "a segment being encoded": (folder / "segments", f".{CUT}.*.part*.mp4"),
        "a segment finished": (folder / "segments", f"{CUT}.*.mp4"),
        "the movie being joined": (folder, f".{CUT}.part*.mp4"),
    }

    def files(moment: str) -> set[Path]:
        where, pattern = patterns[moment]
        return set(where.rglob(pattern)) if where.is_dir() else set()

    rng = random.Random(20240611)
    delays = [round(rng.uniform(0.2, 2.5), 2) for _ in range(3)]  # seconds after the start: 1.6, 1.97, 0.8
    rounds: list[tuple[str | float, tuple[str, str] | None]] = [
        ("first frame written", None),
        *((delay, None) for delay in delays),
        ("a segment being encoded", RETOUCHES[0]),
        ("a segment finished", RETOUCHES[1]),
        ("the movie being joined", RETOUCHES[2]),
    ]
    for moment, retouch in rounds:
        if retouch is not None:
            write_grid(killed / "shots" / CUT / retouch[0], retouch[1])
        before = files(moment) if isinstance(moment, str) else set()
        proc = subprocess.Popen(
            [sys.executable, "-m", "compositor", "render", CUT, "--workers", "2"],
            cwd=killed,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + (moment if isinstance(moment, float) else 120)
        caught = False
        while proc.poll() is None and time.monotonic() < deadline:
            if isinstance(moment, str) and files(moment) - before:
                caught = True
                break
            time.sleep(0.002)
        proc.kill()  # SIGKILL: no handler runs, nothing is tidied; its ffmpeg children live on, orphaned
        code = proc.wait()
        assert code in (0, -9), code
        assert caught or isinstance(moment, float), f"the render ended before {moment}"  # the moment was hit
        _whole_outputs_only(killed)

    run = cli(killed, "render", CUT)
    assert run.returncode == 0, run.stderr
    assert hidden(killed) == []
    assert tree(killed) == reference


RESUME = (
    r"{word} during " + CUT + r": .+ \(\d+/\d+\): every frame and movie segment already finished is kept "
    r"\(nothing half-written is\); `(make|compositor render " + CUT + r")` resumes from there"
)
"""What an interrupted render says: what it was doing, that finished work is kept, and how to resume."""


def test_a_terminated_render_tidies_up_and_says_so(tmp_path: Path) -> None:
    root = production(tmp_path / "prod")
    segments = root / "render" / CUT / "segments"
    proc = subprocess.Popen(
        [sys.executable, "-m", "compositor", "render", CUT], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not list(segments.rglob(".*.part*.mp4")):
        time.sleep(0.002)
    proc.terminate()  # SIGTERM, as make or a CI timeout sends it: mid-encode
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert re.fullmatch(RESUME.format(word="terminated"), stderr.strip().splitlines()[-1]), stderr
    assert "Traceback" not in stderr
    assert hidden(root) == []
    _whole_outputs_only(root)


# ------------------------------------------------------------------------------------------------------------
# Byte-identical reruns; what made them


TEMPORAL = """
[shot]
frames = 8

[background]
source = "plate"
plate = "plates/src.%04d.png"

[temporal]
method = "flow"
strength = 0.8
"""


def test_two_renders_in_two_folders_agree_byte_for_byte(tmp_path: Path) -> None:
    from compositor.steps.encode import ffmpeg_exe

    elsewhere = tmp_path / "bin" / "ffmpeg"  # the same ffmpeg found at another path (another checkout's venv)
    elsewhere.parent.mkdir()
    elsewhere.symlink_to(ffmpeg_exe())
    roots = []
    for name, ffmpeg in (("one", None), ("two", elsewhere)):
        root = production(tmp_path / name, slate=0.25)
        steady = root / "shots" / "sc010_c020"
        steady.mkdir()
        (steady / "shot.toml").write_text(TEMPORAL)
        rng = np.random.default_rng(5)
        for i in range(1, 9):  # a plate that flickers: the temporal pass steadies it and measures itself
            frame = np.full((48, 64, 3), 90 + 8 * (i % 2), np.uint8)
            frame[10:30, 4 * i : 4 * i + 16] = (30, 160, 220)
            frame = np.clip(frame + rng.integers(-6, 7, frame.shape), 0, 255).astype(np.uint8)
            (steady / "plates").mkdir(exist_ok=True)
            cv2.imwrite(str(steady / "plates" / f"src.{i:04d}.png"), frame)
        edit = root / "shots" / "edit.toml"
        edit.write_text(edit.read_text().replace(f'cuts = ["{CUT}"]', f'cuts = ["{CUT}", "sc010_c020"]'))
        env = {"SOURCE_DATE_EPOCH": "1700000000", **({"COMPOSITOR_FFMPEG": str(ffmpeg)} if ffmpeg else {})}
        run = cli(root, "cut", env=env)
        assert run.returncode == 0, run.stderr
        roots.append(root)
    one, two = (tree(r) for r in roots)
    for files, root in ((one, roots[0]), (two, roots[1])):  # the editorial exports name media by absolute URL
        for name in ("tiny.edl", "tiny.otio"):
            files[name] = files[name].replace(root.resolve().as_uri().encode(), b"file:///PRODUCTION")
    assert one.keys() == two.keys()
    assert [k for k in one if one[k] != two[k]] == []
    assert {"tiny.mp4", f"{CUT}/{CUT}.mp4", "sc010_c020/qc.json", "sc010_c020/bg/bg.json"} <= one.keys()
    for manifest in ("sc010_c020/qc.json", "sc010_c020/bg/bg.json", f"{CUT}/bg/bg.json", f"{CUT}/comp/comp.json"):
        text = one[manifest].decode()
        assert not re.search(r'"(seconds|elapsed|started|finished|time|timings?|cpu\w*)"', text), (manifest, text)


def test_the_version_names_the_ffmpeg_and_the_libraries_and_a_render_says_which_ffmpeg(tmp_path: Path) -> None:
    import numpy
    import pydantic

    from compositor import __version__
    from compositor.steps.encode import ffmpeg_identity

    identity = ffmpeg_identity()
    root = production(tmp_path / "prod")
    run = cli(root, "--version")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"compositor {__version__}"
    assert lines[1] == f"ffmpeg {identity['version'].split()[2]} ({identity['ffmpeg']})"
    assert f"numpy {numpy.__version__}" in lines
    assert f"opencv {cv2.__version__}" in lines
    assert f"pydantic {pydantic.__version__}" in lines
    run = cli(root, "render", CUT)
    assert run.returncode == 0, run.stderr
    summary = run.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"{CUT}: 24 of 24 frames composited") and summary.endswith(lines[1]), summary
    log = (root / "render" / CUT / f"{CUT}.log").read_text()
    assert log.startswith(summary) and "cpu seconds, composite:" in log  # timings live in the log


def test_ctrl_c_on_a_render_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    root = production(tmp_path / "prod")
    segments = root / "render" / CUT / "segments"
    proc = subprocess.Popen(
        [sys.executable, "-m", "compositor", "render", CUT], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not list(segments.rglob(".*.part*.mp4")):
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)  # Ctrl-C, mid-encode
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert re.fullmatch(RESUME.format(word="interrupted"), stderr.strip().splitlines()[-1]), stderr
    assert "Traceback" not in stderr
    assert hidden(root) == []
    _whole_outputs_only(root)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/<pid>/maps (Linux)")
def test_ctrl_c_while_the_command_loads_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C during the command's half second of imports (here: as pydantic's compiled core is being loaded)
    was Python's KeyboardInterrupt traceback from inside an import; now one line and exit 130."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "compositor", "validate"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if "pydantic_core" in Path(f"/proc/{proc.pid}/maps").read_text():
            break
        time.sleep(0.001)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = err.decode().splitlines()
    assert proc.returncode == 130, lines
    assert len(lines) == 1 and lines[0].startswith("interrupted"), lines
