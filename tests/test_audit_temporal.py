"""Audit of the temporal pass with material it had not seen: frame sizes the flow cannot take as they are, and
the like (real DAVIS footage processed frame by frame, tiny frames so that each case takes well under a second)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processed_video import SMALL, process, read_clip, rgba

from compositor.temporal import TemporalSettings, deflicker
from tests.conftest import run_cli, threaded_cluster

ROOT = Path(__file__).resolve().parent.parent


def _clip(size: tuple[int, int], frames: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(processed, guide) RGBA frames of blackswan at ``size`` (w, h), gray-world balanced frame by frame."""
    original = read_clip(SMALL / "blackswan", frames, size)
    return [rgba(f) for f in process(original, "gray_world")], [rgba(f) for f in original]


@pytest.mark.parametrize("size", [(8, 8), (1, 24), (24, 1)])
def test_frames_smaller_than_the_flow_takes_are_steadied(size: tuple[int, int]) -> None:
    # OpenCV's DIS refuses an image under 12 px (a cv2.error traceback, before the padding).
    proc, guide = _clip(size)
    out = list(deflicker(proc, guide, TemporalSettings()))
    assert len(out) == len(proc)
    assert all(o.shape == (size[1], size[0], 4) and np.isfinite(o).all() for o in out)
    assert max(float(np.abs(o - p).max()) for o, p in zip(out, proc)) < 0.5


def test_a_thin_strip_does_not_crash_the_process() -> None:
    # A strip under 32 px tall and several times as wide made DIS read out of bounds: a segmentation fault that
    # killed the process (no error, no line). In a child process, so that the old crash fails this test only.
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from test_audit_temporal import _clip\n"
        "from compositor.temporal import TemporalSettings, deflicker\n"
        "for flow in ('dis_fast', 'dis_medium'):\n"
        "    proc, guide = _clip((200, 16))\n"
        "    out = list(deflicker(proc, guide, TemporalSettings(flow=flow)))\n"
        "    assert len(out) == 4 and out[0].shape == (16, 200, 4)\n"
        "print('done')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "done"


def _write_clip(
    folder: Path, size: tuple[int, int], frames: int, clips: tuple[str, ...] = ("blackswan",)
) -> None:
    """``folder/src/%04d.png`` and ``folder/proc/%04d.png``: the clips one after the other (a change of scene
    between them), processed frame by frame."""
    from compositor.core.io import write_image

    original = [f for clip in clips for f in read_clip(SMALL / clip, frames, size)]
    for i, (g, p) in enumerate(zip(original, process(original, "gray_world"))):
        write_image(folder / "src" / f"{i + 1:04d}.png", rgba(g))
        write_image(folder / "proc" / f"{i + 1:04d}.png", rgba(p))


def test_deflicker_with_a_scheduler_writes_what_a_local_run_writes(tmp_path: Path) -> None:
    # `compositor deflicker --scheduler` made its client with set_as_default=False and then waited on the windows
    # with distributed.as_completed(futures), which looks for the default client: "ValueError: No clients found"
    # (a traceback) every time, with some windows written.
    distributed = pytest.importorskip("distributed")
    from compositor.core.io import read_image

    _write_clip(tmp_path, (96, 54), 4, ("blackswan", "dance-twirl"))  # a change of scene inside a window
    io = ["--input", str(tmp_path / "proc/%04d.png"), "--guide", str(tmp_path / "src/%04d.png")]
    assert run_cli("deflicker", *io, "--output", str(tmp_path / "local"), "--window", "3") == 0
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        dashboard_address=None,
        silence_logs=50,
    ) as cluster:
        farm = ["--output", str(tmp_path / "farm"), "--window", "3", "--scheduler", cluster.scheduler_address]
        assert run_cli("deflicker", *io, *farm) == 0
    for i in range(8):
        name = f"{i + 1:04d}.png"
        assert np.array_equal(read_image(tmp_path / "local" / name), read_image(tmp_path / "farm" / name))


def test_an_output_folder_that_is_the_guides_is_refused_and_the_plate_kept(tmp_path: Path, capsys) -> None:
    # The check looked at the input's files only: --output on the guide's folder replaced the plate, silently.
    _write_clip(tmp_path, (64, 36), 3)
    plate = {p.name: p.read_bytes() for p in (tmp_path / "src").iterdir()}
    io = ["--input", str(tmp_path / "proc/%04d.png"), "--guide", str(tmp_path / "src/%04d.png")]
    assert run_cli("deflicker", *io, "--output", str(tmp_path / "src")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'src'}: the output would overwrite the guide {io[3]}; choose another folder"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "src").iterdir()} == plate


def test_the_cluster_refuses_an_output_folder_that_is_the_inputs(tmp_path: Path) -> None:
    # deflicker_on_cluster had no such check: its workers wrote the steadied frames over the input files while
    # other windows were still reading them.
    from compositor.errors import SpecError
    from compositor.temporal.farm import deflicker_on_cluster

    _write_clip(tmp_path, (64, 36), 3)
    before = {p.name: p.read_bytes() for p in (tmp_path / "proc").iterdir()}
    proc, src = str(tmp_path / "proc/%04d.png"), str(tmp_path / "src/%04d.png")
    with threaded_cluster(1) as client:
        for folder, role in (("proc", "input"), ("src", "guide")):
            with pytest.raises(SpecError, match=f"would overwrite the {role}"):
                deflicker_on_cluster(client, proc, src, tmp_path / folder, TemporalSettings(window=1))
    assert {p.name: p.read_bytes() for p in (tmp_path / "proc").iterdir()} == before


def test_a_jpeg_sequence_is_steadied_into_png_frames(tmp_path: Path) -> None:
    # The output took the input's file names, so a JPEG sequence (DAVIS is one) came out as JPEG: re-encoded,
    # lossy, the compression noise the pass takes out put back; the README promises PNG frames.
    from compositor.core.io import read_image
    from compositor.temporal import deflicker_files

    for p in sorted((SMALL / "blackswan").glob("*.jpg"))[:3]:
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / p.name).write_bytes(p.read_bytes())
    pattern = str(tmp_path / "in" / "%04d.jpg")
    deflicker_files(pattern, pattern, tmp_path / "out", TemporalSettings(window=2))
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [p.with_suffix(".png").name for p in sorted((tmp_path / "in").iterdir())]
    for name in written:
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert read_image(tmp_path / "out" / name).shape == (180, 320, 4)


def test_relative_paths_reach_workers_started_in_another_folder(tmp_path: Path, monkeypatch) -> None:
    # The windows were submitted with the paths as typed: a worker (another machine, or a dask-worker started in
    # another folder) looked for proc/%04d.png in its own working folder: "no image or sequence frames found".
    distributed = pytest.importorskip("distributed")
    from compositor.core.io import read_image
    from compositor.temporal import deflicker_files
    from compositor.temporal.farm import deflicker_on_cluster

    _write_clip(tmp_path, (64, 36), 3)
    settings = TemporalSettings(window=2)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as cluster:  # a worker process, started in this folder
        monkeypatch.chdir(tmp_path)  # the user works in another
        with distributed.Client(cluster, set_as_default=False) as client:
            assert deflicker_on_cluster(client, "proc/%04d.png", "src/%04d.png", Path("farm"), settings) == 3
    deflicker_files("proc/%04d.png", "src/%04d.png", Path("local"), settings)
    for i in range(1, 4):
        name = f"{i:04d}.png"
        assert np.array_equal(read_image(tmp_path / "farm" / name), read_image(tmp_path / "local" / name))


def test_a_window_whose_context_starts_at_a_change_of_scene_is_the_local_runs(tmp_path: Path) -> None:
    # A window alone read its frames from the first of its context on, so it could not tell that the link into
    # that frame is a change of scene (a run of the whole cut can): the pass reflected there locally and not on
    # the cluster, and the cluster's frames after the change differed from a local run's.
    from compositor.core.io import read_image
    from compositor.temporal import deflicker_files
    from compositor.temporal.farm import deflicker_on_cluster

    _write_clip(tmp_path, (64, 36), 3, ("blackswan", "dance-twirl"))  # the scene changes into frame 4
    settings = TemporalSettings(window=2, context=1)  # the window of frames 5-6 reads its context from frame 4
    proc, src = str(tmp_path / "proc/%04d.png"), str(tmp_path / "src/%04d.png")
    deflicker_files(proc, src, tmp_path / "local", settings)
    with threaded_cluster() as client:
        assert deflicker_on_cluster(client, proc, src, tmp_path / "farm", settings) == 6
    for i in range(1, 7):
        name = f"{i:04d}.png"
        assert np.array_equal(read_image(tmp_path / "local" / name), read_image(tmp_path / "farm" / name)), name


CHANGING_SCENE_CUT = """
[shot]
frames = 6

[background]
source = "plate"
plate = "plates/bg.%04d.png"
stylize = "paint"

[temporal]
window = 2
context = 1
"""


def test_a_background_window_whose_context_starts_at_a_change_of_scene_is_the_local_runs(
    production_factory,
) -> None:
    # The same for `compositor bg --scheduler` (compositor.steps.background_farm): its windows read from the first
    # frame of their context too.
    import compositor
    from compositor.core.io import read_image
    from compositor.steps.background import ensure_background
    from compositor.steps.background_farm import steady_on_cluster

    root = production_factory({"c1": CHANGING_SCENE_CUT}, size=(64, 36))
    _write_clip(root / "shots/c1/plates", (64, 36), 3, ("blackswan", "dance-twirl"))
    for i in range(1, 7):  # the plate: the original footage, the scene changing into frame 4
        (root / f"shots/c1/plates/src/{i:04d}.png").rename(root / f"shots/c1/plates/bg.{i:04d}.png")
    shot = compositor.cut(compositor.load(root), "c1")
    ensure_background(shot)
    local = [read_image(shot.paths.bg_frame(i)) for i in range(6)]
    shutil.rmtree(shot.paths.bg_folder)
    with threaded_cluster() as client:
        ensure_background(shot, steady=steady_on_cluster(client))
    for i in range(6):
        assert np.array_equal(read_image(shot.paths.bg_frame(i)), local[i]), f"canvas {i}"


STILL_GUIDE_CUT = """
[shot]
frames = 6

[background]
source = "plate"
plate = "plates/bg.%04d.png"

[temporal]
guide = "plates/layout.png"
"""


def test_a_still_guide_in_a_cut_stands_for_a_locked_off_camera_as_in_deflicker(production_factory) -> None:
    # `compositor deflicker` takes a still guide (a locked-off camera); a cut refused the same guide: "1 frames,
    # but the background has 6", from `compositor check` and from the render.
    import compositor
    from compositor.core.io import read_image, write_image
    from compositor.steps.background import ensure_background
    from compositor.temporal import deflicker_files
    from compositor.validate import cut_problems

    root = production_factory({"c1": STILL_GUIDE_CUT}, size=(64, 36))
    plates = root / "shots/c1/plates"
    _write_clip(plates, (64, 36), 6)
    for i in range(1, 7):  # the plate: the frames balanced one by one
        (plates / f"proc/{i:04d}.png").rename(plates / f"bg.{i:04d}.png")
    write_image(plates / "layout.png", read_image(plates / "src/0001.png"))
    shot = compositor.cut(compositor.load(root), "c1")
    assert cut_problems(shot) == []
    ensure_background(shot)
    steadied = [read_image(shot.paths.bg_frame(i)) for i in range(6)]
    assert not np.array_equal(steadied[0], read_image(plates / "bg.0001.png"))  # the pass ran
    # ... as `compositor deflicker` steadies the same frames with the same still guide.
    deflicker_files(str(plates / "bg.%04d.png"), str(plates / "layout.png"), plates / "out", TemporalSettings())
    for i in range(6):
        np.testing.assert_allclose(steadied[i], read_image(plates / f"out/bg.{i + 1:04d}.png"), atol=1 / 255 + 1e-6)


def test_a_folder_given_for_its_frames_is_named_as_a_folder_with_the_pattern_to_give(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    # `deflicker --output out` takes a folder, so a user gives `--input proc` or `qc --output out` too: the one
    # line said "proc: no image or sequence frames found", of a folder full of frames.
    _write_clip(tmp_path, (64, 36), 3)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert run_cli("deflicker", "--input", "proc", "--guide", "src/%04d.png", "--output", "out") == 1
    said = "error: proc: a folder, not a sequence: name its frames with a printf pattern (e.g. 'proc/%04d.png')"
    assert capsys.readouterr().err.strip() == said
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    assert run_cli("qc", "--input", "proc/%04d.png", "--output", "empty") == 1
    assert "empty: a folder with no numbered image files" in capsys.readouterr().err
    # In a spec (paths relative to its folder, shown relative to the production): the files' own pattern,
    # each of the sequences the folder holds (a plate beside its guide).
    from compositor.core.io import FrameSource
    from compositor.errors import MissingInputError

    for i in (1, 2):
        (tmp_path / "empty" / f"src.{i:04d}.png").write_bytes((tmp_path / "src" / f"{i:04d}.png").read_bytes())
        (tmp_path / "empty" / f"proc.{i:03d}.png").write_bytes((tmp_path / "proc" / f"{i:04d}.png").read_bytes())
    with pytest.raises(MissingInputError) as caught:
        FrameSource(tmp_path / "empty", "shot.toml: temporal.guide", rel=lambda p: p.name)
    assert str(caught.value) == (
        "shot.toml: temporal.guide: a folder, not a sequence: name its frames with a printf pattern (its files are "
        "named 'proc.%03d.png', 'src.%04d.png')"
    )


def test_a_gap_in_a_sequence_given_to_deflicker_points_to_no_setting_it_does_not_have(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    # The line ended "(hold_missing = true in [background] holds the frame before)": a shot's setting, which
    # `compositor deflicker` and `qc` have no way to take.
    _write_clip(tmp_path, (64, 36), 4)
    (tmp_path / "proc" / "0003.png").unlink()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert run_cli("deflicker", "--input", "proc/%04d.png", "--guide", "src/%04d.png", "--output", "out") == 1
    said = "error: proc/%04d.png: frame 3 ('0003.png') is missing from '%04d.png', numbered 1-4"
    assert capsys.readouterr().err.strip() == said
    assert run_cli("qc", "--input", "src/%04d.png", "--output", "proc/%04d.png") == 1
    assert capsys.readouterr().err.strip() == said


@pytest.mark.parametrize("command", ["deflicker", "qc"])
def test_a_flow_not_on_offer_is_bad_usage_like_any_option_out_of_range(
    command: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    # --strength 1.5 was bad usage (2, with the usage) but --flow DIS_FAST a user error (1, "temporal settings:
    # temporal.flow: ..."), as if the files had been at fault; the README: 2 on bad usage.
    _write_clip(tmp_path, (64, 36), 2)
    monkeypatch.chdir(tmp_path)
    args = ["--input", "proc/%04d.png", "--guide", "src/%04d.png", "--flow", "DIS_FAST"]
    assert run_cli(command, *args, *(["--output", "out"] if command == "deflicker" else [])) == 2
    assert "Invalid value for '--flow'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert run_cli(command, *args[:-1], "dis_ultrafast", *(["--output", "out"] if command == "deflicker" else [])) == 0


def test_an_output_named_as_a_pattern_or_a_movie_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    # `--output 'out/%04d.png'` (as --input is given) made a folder named '%04d.png' with the frames in it, and
    # `--output steady.mp4` a folder 'steady.mp4' of PNGs: both without a word, exit status 0.
    _write_clip(tmp_path, (64, 36), 3)
    monkeypatch.chdir(tmp_path)
    args = ["deflicker", "--input", "proc/%04d.png", "--guide", "src/%04d.png", "--output"]
    capsys.readouterr()
    assert run_cli(*args, "out/%04d.png") == 1
    said = "error: out/%04d.png: the output is a folder (the frames go into it named like '0001.png'): give 'out', "
    assert capsys.readouterr().err.strip() == said + "not a pattern"
    assert run_cli(*args, "steady.mp4") == 1
    assert capsys.readouterr().err.strip() == (
        "error: steady.mp4: the output is a folder (the frames go into it named like '0001.png'), not a movie; "
        "give a folder"
    )
    assert not (tmp_path / "out").exists() and not (tmp_path / "steady.mp4").exists()
    (tmp_path / "takes.png").mkdir()  # a folder that exists is the user's choice of name
    assert run_cli(*args, "takes.png") == 0
    assert sorted(p.name for p in (tmp_path / "takes.png").iterdir()) == ["0001.png", "0002.png", "0003.png"]
