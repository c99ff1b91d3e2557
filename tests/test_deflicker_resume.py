"""`compositor deflicker` resumes: each output frame carries its window's key (what made it), so a run keeps
the windows an interrupted run finished, makes again exactly those whose frames or settings changed, and removes
the frames an earlier, longer run left past the end. Real DAVIS footage processed frame by frame."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from processed_video import SMALL, process, read_clip, rgba

from compositor.core.io import read_frame_key, read_image, write_image
from compositor.temporal import TemporalSettings, deflicker_files
from tests.conftest import run_cli, threaded_cluster

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = TemporalSettings(window=3, context=2)
"""Windows of 3 frames reading 2 either side: a 10-frame clip has 4 windows, not all reading every frame."""


def _clip(
    folder: Path, frames: int = 10, size: tuple[int, int] = (96, 54), clips: tuple[str, ...] = ("blackswan",)
) -> tuple[str, str]:
    """``folder/proc/%04d.png`` (gray-world balanced frame by frame) and ``folder/src/%04d.png``, the clips one
    after the other: the patterns."""
    original = [f for clip in clips for f in read_clip(SMALL / clip, frames, size)]
    for i, (g, p) in enumerate(zip(original, process(original, "gray_world"))):
        write_image(folder / "src" / f"{i + 1:04d}.png", rgba(g))
        write_image(folder / "proc" / f"{i + 1:04d}.png", rgba(p))
    return str(folder / "proc/%04d.png"), str(folder / "src/%04d.png")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _stop_at(frame: int):  # noqa: ANN202
    def progress(done: int, total: int) -> None:
        if done == frame:
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread
    return progress


def test_an_interrupted_run_resumes_at_its_first_unfinished_window_with_the_same_files(tmp_path: Path) -> None:
    proc, src = _clip(tmp_path)
    whole = deflicker_files(proc, src, tmp_path / "whole", SETTINGS)
    assert (whole["kept"], whole["frames"]) == (0, 10)
    with pytest.raises(KeyboardInterrupt):
        deflicker_files(proc, src, tmp_path / "out", SETTINGS, progress=_stop_at(5))
    assert 3 <= len(list((tmp_path / "out").iterdir())) < 10
    seen: list[int] = []
    resumed = deflicker_files(proc, src, tmp_path / "out", SETTINGS, progress=lambda done, total: seen.append(done))
    # Window 1 (frames 1-3) was finished, window 2 (4-6) was not: the run starts at frame 4.
    assert (resumed["kept"], resumed["frames"]) == (3, 7)
    assert seen == list(range(4, 11))
    assert _files(tmp_path / "out") == _files(tmp_path / "whole")  # byte for byte, keys included
    again = deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    assert (again["kept"], again["frames"], again["psnr"]) == (10, 0, None)
    assert (again["width"], again["height"]) == (96, 54)


def test_a_changed_frame_makes_again_only_the_windows_that_read_it(tmp_path: Path) -> None:
    proc, src = _clip(tmp_path)
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    before = _files(tmp_path / "out")
    # A retouched last frame: read by the windows of frames 7-9 (its context) and 10, not by those of 1-6.
    last = tmp_path / "proc" / "0010.png"
    write_image(last, rgba(255 - read_clip(tmp_path / "proc", 10)[-1]))
    result = deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    assert (result["kept"], result["frames"]) == (6, 4)
    after = _files(tmp_path / "out")
    assert all(after[f"{i:04d}.png"] == before[f"{i:04d}.png"] for i in range(1, 7))
    assert all(after[f"{i:04d}.png"] != before[f"{i:04d}.png"] for i in range(7, 11))
    # Other settings: nothing made with the old ones passes for done.
    stronger = deflicker_files(proc, src, tmp_path / "out", SETTINGS.model_copy(update={"strength": 0.6}))
    assert (stronger["kept"], stronger["frames"]) == (0, 10)


def test_a_retouched_frame_in_the_middle_keeps_the_windows_after_those_that_read_it(tmp_path: Path) -> None:
    """A local run as a cluster's: the windows after the ones a retouched frame is read by are kept too, not
    made again from there to the end, and every file is the one a fresh run on the retouched frames writes."""
    proc, src = _clip(tmp_path, frames=15)
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    times = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    # Frame 8 is read by the windows of frames 4-6 (context 2-8), 7-9 and 10-12 (context 8-14, and 7, the
    # frame before it, for its link); not by those of 1-3 (1-5) and 13-15 (10-15, and 10).
    middle = tmp_path / "proc" / "0008.png"
    write_image(middle, rgba(255 - read_clip(tmp_path / "proc", 15)[7]))
    result = deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    assert (result["kept"], result["frames"], result["made"]) == (6, 9, [[4, 12]])
    fresh = deflicker_files(proc, src, tmp_path / "fresh", SETTINGS)
    assert fresh["made"] == [[1, 15]]
    assert _files(tmp_path / "out") == _files(tmp_path / "fresh")  # byte for byte, keys included
    kept = [f"{i:04d}.png" for i in (1, 2, 3, 13, 14, 15)]
    assert all((tmp_path / "out" / name).stat().st_mtime_ns == times[name] for name in kept)  # not written again


def test_a_shorter_run_removes_the_frames_a_longer_one_left_and_keeps_the_users_own(tmp_path: Path) -> None:
    proc, src = _clip(tmp_path)
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    for folder in ("proc", "src"):
        for i in (9, 10):
            (tmp_path / folder / f"{i:04d}.png").unlink()
    mine = tmp_path / "out" / "0011.png"  # a frame of the user's own in the sequence (no pass key)
    mine.write_bytes((tmp_path / "proc" / "0001.png").read_bytes())
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    assert sorted(_files(tmp_path / "out")) == [*(f"{i:04d}.png" for i in range(1, 9)), "0011.png"]
    assert read_frame_key(mine) is None


def test_ctrl_c_on_the_command_says_it_resumes_and_the_same_command_does(tmp_path: Path) -> None:
    proc, src = _clip(tmp_path, frames=24, size=(320, 180), clips=("blackswan", "dance-twirl"))
    command = [
        sys.executable, "-m", "compositor", "deflicker", "--input", proc, "--guide", src,
        "--output", str(tmp_path / "out"), "--window", "4",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MAKELEVEL", None)
    child = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if len(list((tmp_path / "out").glob("*.png"))) >= 8:
            child.send_signal(signal.SIGINT)
            break
        time.sleep(0.005)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted during deflicker (") and last.endswith("resumes from there"), last
    kept = len(list((tmp_path / "out").glob("*.png")))
    assert 8 <= kept < 48
    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "deflicker: kept frames 1-" in rerun.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 48


def test_a_cluster_sends_only_the_windows_a_local_run_left_unfinished(tmp_path: Path) -> None:
    from compositor.temporal.farm import deflicker_on_cluster

    proc, src = _clip(tmp_path)
    deflicker_files(proc, src, tmp_path / "whole", SETTINGS)
    with pytest.raises(KeyboardInterrupt):
        deflicker_files(proc, src, tmp_path / "out", SETTINGS, progress=_stop_at(5))
    with threaded_cluster() as client:
        assert deflicker_on_cluster(client, proc, src, tmp_path / "out", SETTINGS) == 7  # frames 4-10
        assert deflicker_on_cluster(client, proc, src, tmp_path / "out", SETTINGS) == 0
    assert _files(tmp_path / "out") == _files(tmp_path / "whole")


def test_a_run_of_later_frames_keeps_the_frames_an_earlier_run_wrote_before_them(tmp_path: Path) -> None:
    # Frames 6-10 processed again on their own (another folder, the same names) into the same output:
    # frames 1-5 are not past its end, and were removed as if a longer run had left them.
    proc, src = _clip(tmp_path)
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    before = _files(tmp_path / "out")
    for folder in ("proc", "src"):
        (tmp_path / f"{folder}2").mkdir()
        for i in range(6, 11):
            (tmp_path / folder / f"{i:04d}.png").rename(tmp_path / f"{folder}2" / f"{i:04d}.png")
    proc2, src2 = str(tmp_path / "proc2/%04d.png"), str(tmp_path / "src2/%04d.png")
    deflicker_files(proc2, src2, tmp_path / "out", SETTINGS)
    after = _files(tmp_path / "out")
    assert sorted(after) == [f"{i:04d}.png" for i in range(1, 11)]
    assert all(after[f"{i:04d}.png"] == before[f"{i:04d}.png"] for i in range(1, 6))


def test_a_file_of_the_users_spelling_a_frame_number_otherwise_does_not_fail_the_run(tmp_path: Path) -> None:
    # '01.png' beside '0001.png': the sweep for stale frames raised "frame 1 ... is both", after every frame
    # was written, so a run that did its work exited as failed (and every run after it).
    proc, src = _clip(tmp_path)
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    mine = tmp_path / "out" / "01.png"
    mine.write_bytes((tmp_path / "proc" / "0001.png").read_bytes())
    result = deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    assert (result["kept"], result["frames"]) == (10, 0)
    assert mine.is_file() and (tmp_path / "out" / "0010.png").is_file()


def test_a_frame_retouched_while_the_run_reads_it_is_not_taken_for_done(tmp_path: Path, monkeypatch) -> None:
    # A window's key was hashed when its first frame was written, after the pass had read its frames: a
    # file saved in between gave frames made from its old bytes the key of its new ones; the next run kept
    # them.
    import compositor.temporal.files as files

    proc, src = _clip(tmp_path)
    retouched = tmp_path / "proc" / "0005.png"
    new = rgba(255 - read_clip(tmp_path / "proc", 5)[-1])
    real, saved = files.file_digest, []

    def digest(path: Path | str) -> str:
        if not saved:  # the first key hashed: the user saves the retouched frame now
            write_image(retouched, new)
            saved.append(retouched)
        return real(path)

    monkeypatch.setattr(files, "file_digest", digest)
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    monkeypatch.undo()
    assert saved
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)  # keeps every window that carries its key
    deflicker_files(proc, src, tmp_path / "whole", SETTINGS)
    assert _files(tmp_path / "out") == _files(tmp_path / "whole")


def test_a_cluster_keeps_no_window_at_another_depth_than_the_first_frame_now_gives(tmp_path: Path) -> None:
    # The output's depth follows the input's first file; a window's key held only the files it reads, so
    # after frame 1 was saved at 16 bits a cluster made again the windows that read it at 16 bits and kept
    # the others at 8: one sequence at two depths.
    from compositor.core.io import read_image, sample_bits
    from compositor.temporal.farm import deflicker_on_cluster

    proc, src = _clip(tmp_path)
    first = tmp_path / "proc" / "0001.png"
    with threaded_cluster() as client:
        assert deflicker_on_cluster(client, proc, src, tmp_path / "out", SETTINGS) == 10
        write_image(first, read_image(first), depth=16)  # the same pixels, at 16 bits
        assert deflicker_on_cluster(client, proc, src, tmp_path / "out", SETTINGS) == 10
    assert [sample_bits(tmp_path / "out" / f"{i:04d}.png") for i in range(1, 11)] == [16] * 10


def test_a_tiff_sequence_resumes_as_a_png_one_does(tmp_path: Path) -> None:
    """TIFF frames carry their window's key too (``ImageDescription``): before, every run made a TIFF sequence
    again whole, though the Ctrl-C line promised a resume."""
    proc, src = _clip(tmp_path)
    for i in range(1, 11):
        frame = read_clip(tmp_path / "proc", 10)[i - 1]
        write_image(tmp_path / "tif" / f"{i:04d}.tif", rgba(frame))
    tif = str(tmp_path / "tif/%04d.tif")
    whole = deflicker_files(tif, src, tmp_path / "whole", SETTINGS)
    assert whole["frames"] == 10 and read_frame_key(tmp_path / "whole" / "0001.tif").startswith("deflicker-")
    with pytest.raises(KeyboardInterrupt):
        deflicker_files(tif, src, tmp_path / "out", SETTINGS, progress=_stop_at(5))
    resumed = deflicker_files(tif, src, tmp_path / "out", SETTINGS)
    assert (resumed["kept"], resumed["made"]) == (3, [[4, 10]])
    assert _files(tmp_path / "out") == _files(tmp_path / "whole")
    assert deflicker_files(tif, src, tmp_path / "out", SETTINGS)["kept"] == 10


@pytest.mark.parametrize("suffix", [".png", ".exr"])
def test_an_output_frame_cut_short_is_made_again_not_kept(tmp_path: Path, suffix: str) -> None:
    # A frame cut short (copied halfway, a full disk, truncated by hand) keeps the key at its front: the run
    # took its window for done and kept a frame that does not decode.
    proc, src = _clip(tmp_path)
    if suffix == ".exr":
        from compositor.core.io import read_image

        for i in range(1, 11):
            frame = tmp_path / "proc" / f"{i:04d}.png"
            write_image(frame.with_suffix(".exr"), read_image(frame))
        proc = str(tmp_path / "proc/%04d.exr")
    deflicker_files(proc, src, tmp_path / "whole", SETTINGS)
    deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    cut = tmp_path / "out" / f"0005{suffix}"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    assert read_frame_key(cut) is not None
    result = deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    assert result["made"] == [[4, 6]]
    assert _files(tmp_path / "out") == _files(tmp_path / "whole")


def test_a_one_frame_video_is_written_as_its_sequence_frame_1(tmp_path: Path) -> None:
    # A video's frames are <stem>.%04d.png; one of a single frame was written as <stem>.png (its one file
    # taken for a sequence's), which no pattern of the video's frames finds, and which stayed beside
    # <stem>.0001.png ... once the video was made longer.
    import cv2

    proc, src = _clip(tmp_path, frames=3)
    frames = read_clip(tmp_path / "proc", 3)
    guides = read_clip(tmp_path / "src", 3)
    for name, clip in (("clip", frames), ("guide", guides)):
        writer = cv2.VideoWriter(str(tmp_path / f"{name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 24, (96, 54))
        writer.write(cv2.cvtColor(clip[0], cv2.COLOR_RGB2BGR))
        writer.release()
    result = deflicker_files(str(tmp_path / "clip.avi"), str(tmp_path / "guide.avi"), tmp_path / "out", SETTINGS)
    assert result["frames"] == 1
    assert sorted(_files(tmp_path / "out")) == ["clip.0001.png"]


def test_frames_added_at_the_end_keep_the_windows_that_do_not_read_near_it(tmp_path: Path) -> None:
    # The key held the clip's length, which only the windows whose frames reach the clip's end depend on:
    # a plate run again with frames added at its end (delivered later, a per-frame process still running)
    # made every window again, from the first, for the same bytes.
    proc, src = _clip(tmp_path, frames=15)
    for folder in ("proc", "src"):
        (tmp_path / f"{folder}-later").mkdir()
        for i in range(11, 16):
            (tmp_path / folder / f"{i:04d}.png").rename(tmp_path / f"{folder}-later" / f"{i:04d}.png")
    assert deflicker_files(proc, src, tmp_path / "out", SETTINGS)["made"] == [[1, 10]]
    for folder in ("proc", "src"):
        for i in range(11, 16):
            (tmp_path / f"{folder}-later" / f"{i:04d}.png").rename(tmp_path / folder / f"{i:04d}.png")
    # Frames 1-6 read frames 1-8 at most (context 2); the window of 7-9 reads frame 10, the end before.
    result = deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    assert (result["kept"], result["made"]) == (6, [[7, 15]])
    deflicker_files(proc, src, tmp_path / "fresh", SETTINGS)
    # The same pixels and window hashes a fresh run writes; the kept frames' keys still name the run of 1-10.
    out, fresh = _files(tmp_path / "out"), _files(tmp_path / "fresh")
    assert sorted(out) == sorted(fresh)
    for name in fresh:
        a, b = tmp_path / "out" / name, tmp_path / "fresh" / name
        assert np.array_equal(read_image(a), read_image(b)), name
        assert read_frame_key(a).partition("@")[0] == read_frame_key(b).partition("@")[0], name


def test_a_named_pipe_among_the_frames_is_refused_not_waited_on(tmp_path: Path) -> None:
    # Every frame a window reads is hashed for its key before the pass reads it; the hash opened a named
    # pipe named like a frame and waited on it for ever (the reader refuses one: `io._check_regular`).
    import threading

    from compositor.errors import CorruptInputError

    proc, src = _clip(tmp_path, frames=5)
    pipe = tmp_path / "proc" / "0003.png"
    pipe.unlink()
    os.mkfifo(pipe)
    done, waited = threading.Event(), []

    def unblock() -> None:  # a writer that opens and closes the pipe ends a read waiting on it (the test fails)
        while not done.wait(0.2):
            try:
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader waiting
                continue
            waited.append(pipe)
    threading.Thread(target=unblock, daemon=True).start()
    try:
        with pytest.raises(CorruptInputError, match=r"0003\.png: not a regular file"):
            deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    finally:
        done.set()
    assert not waited


def test_a_broken_or_looping_link_named_like_a_frame_is_one_line_naming_it(tmp_path: Path) -> None:
    # A link to nothing was hashed for its window's key before the reader could say "no such file": a bare
    # FileNotFoundError (a traceback); a link to itself made the check that the output spares the input raise
    # RuntimeError (Path.resolve), in the input or in the output folder.
    from compositor.errors import CompositorError, MissingInputError

    proc, src = _clip(tmp_path, frames=5)
    frame = tmp_path / "proc" / "0003.png"
    frame.unlink()
    frame.symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(MissingInputError, match=r"0003\.png: no such file"):
        deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    frame.unlink()
    frame.symlink_to(frame)
    with pytest.raises(CompositorError, match=r"0003\.png: cannot read"):
        deflicker_files(proc, src, tmp_path / "out", SETTINGS)
    frame.unlink()
    frame.write_bytes((tmp_path / "src" / "0003.png").read_bytes())
    looping = tmp_path / "out" / "0002.png"
    looping.parent.mkdir(exist_ok=True)
    looping.symlink_to(looping)
    assert deflicker_files(proc, src, tmp_path / "out", SETTINGS)["made"] == [[1, 5]]
    assert not looping.is_symlink()


def _renumber(folder: Path, frames: int, first: int) -> None:
    """``folder/%04d.png`` numbered 1..frames made ``first``..: a range taken from the middle of a shot."""
    for i in range(frames, 0, -1):
        (folder / f"{i:04d}.png").rename(folder / f"{i + first - 1:04d}.png")


def test_kept_and_made_frames_are_named_by_their_numbers_not_their_places(tmp_path: Path, capsys) -> None:
    # Frames 11-30 of a shot: after a retouch of 0030.png the command said "kept frames 1-9" and "frames 10-20",
    # numbers of files it had not written (or, in a folder holding the whole shot, of other frames).
    proc, src = _clip(tmp_path, frames=20)
    for folder in ("proc", "src"):
        _renumber(tmp_path / folder, 20, 11)
    command = ["deflicker", "--input", proc, "--guide", src, "--output", str(tmp_path / "out"), "--window", "3"]
    assert run_cli(*command) == 0
    last = tmp_path / "proc" / "0030.png"
    write_image(last, rgba(255 - read_clip(tmp_path / "proc", 20)[-1]))
    capsys.readouterr()
    assert run_cli(*command) == 0
    err = capsys.readouterr().err
    # Automatic context (8): the windows of frames 11-19 do not read 0030.png, those of 20-30 do.
    assert "deflicker: kept frames 11-19, made by an earlier run" in err, err
    assert "deflicker, frames 20-30: E_warp" in err, err
    result = deflicker_files(proc, src, tmp_path / "out", TemporalSettings(window=3))
    assert (result["first"], result["kept"], result["made"]) == (11, 20, [])


def test_a_shorter_run_says_which_frames_of_the_longer_one_it_removed(tmp_path: Path, capsys) -> None:
    # Frames 1-6 run into the folder of a 10-frame run: 0007-0010.png went without a word, an earlier run's
    # work gone from the folder as if it had never been made.
    proc, src = _clip(tmp_path)
    out = tmp_path / "out"
    deflicker_files(proc, src, out, SETTINGS)
    for folder in ("proc", "src"):
        for i in range(7, 11):
            (tmp_path / folder / f"{i:04d}.png").unlink()
    capsys.readouterr()
    assert run_cli("deflicker", "--input", proc, "--guide", src, "--output", str(out), "--window", "3") == 0
    err = capsys.readouterr().err
    said = f"deflicker: removed frames 7-10 of {out}, which an earlier, longer run wrote past this run's last frame (6)"
    assert said in err, err
    assert sorted(_files(out)) == [f"{i:04d}.png" for i in range(1, 7)]
    again = deflicker_files(proc, src, out, SETTINGS)
    assert again["removed"] == []


def test_an_interrupted_deflicker_says_it_keeps_whole_windows(monkeypatch) -> None:
    # It said "every frame and movie segment already finished is kept": of 25 frames on disk the resume kept 16
    # and made frames 17-25 again (their window was half done), and a deflicker has no movie segments.
    from compositor import cli

    monkeypatch.delenv("MAKELEVEL", raising=False)
    monkeypatch.setattr(sys, "argv", ["compositor", "deflicker", "--input", "p/%04d.png"])
    monkeypatch.setattr(cli, "_activity", {"description": "deflicker", "done": 25, "total": 40})
    line = cli.interruption_message("interrupted")
    assert line == (
        "interrupted during deflicker (25/40): every window of frames already finished is kept (the frames of one "
        "half done are made again); `compositor deflicker --input p/%04d.png` resumes from there"
    )
    monkeypatch.setattr(cli, "_activity", {"description": "composite", "done": 3, "total": 9})
    assert "every frame and movie segment already finished is kept" in cli.interruption_message("interrupted")


def test_a_run_of_earlier_frames_keeps_the_frames_a_run_of_later_ones_wrote(tmp_path: Path) -> None:
    # A shot done in halves into one folder, the later half first (another machine finished first): the run of
    # frames 1-5 removed 6-10 as if a longer run had left them past its end, the other half's work lost; and
    # so did every later run of 1-5.
    proc, src = _clip(tmp_path)
    for folder in ("proc", "src"):
        (tmp_path / f"{folder}2").mkdir()
        for i in range(6, 11):
            (tmp_path / folder / f"{i:04d}.png").rename(tmp_path / f"{folder}2" / f"{i:04d}.png")
    proc2, src2 = str(tmp_path / "proc2/%04d.png"), str(tmp_path / "src2/%04d.png")
    out = tmp_path / "out"
    deflicker_files(proc2, src2, out, SETTINGS)
    later = _files(out)
    first = deflicker_files(proc, src, out, SETTINGS)
    again = deflicker_files(proc, src, out, SETTINGS)
    assert (first["removed"], again["removed"], again["kept"]) == ([], [], 5)
    after = _files(out)
    assert sorted(after) == [f"{i:04d}.png" for i in range(1, 11)]
    assert all(after[name] == data for name, data in later.items())
    # A longer run's tail still goes: frames 1-10 in one run, then 1-8.
    for i in range(6, 11):
        for folder in ("proc", "src"):
            (tmp_path / f"{folder}2" / f"{i:04d}.png").rename(tmp_path / folder / f"{i:04d}.png")
    deflicker_files(proc, src, out, SETTINGS)
    for folder in ("proc", "src"):
        for i in (9, 10):
            (tmp_path / folder / f"{i:04d}.png").unlink()
    assert deflicker_files(proc, src, out, SETTINGS)["removed"] == [[9, 10]]
    assert sorted(_files(out)) == [f"{i:04d}.png" for i in range(1, 9)]
