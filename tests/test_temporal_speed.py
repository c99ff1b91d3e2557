"""The temporal pass's speed-ups change nothing: the motion computed on a thread is the analyser's own, bit for
bit; the pass with it gives the frames and figures of the pass computed on one thread; the backward sweep that
stops at the first state a window uses gives the states of the full sweep; the kept sample map is the one a
fresh build gives. On real footage (tests/data/davis_small), at full flow resolution and at half (where the
motion is kept at flow resolution and upsampled on use)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from processed_video import SMALL, process, read_clip, rgba

from compositor.errors import SpecError
from compositor.temporal import TemporalSettings, deflicker, deflicker_files
from compositor.temporal.bidirectional import _Item, _run_windows, _Sweeper, _windows
from compositor.temporal.flow import LazyMotion, MotionAnalyser, moved
from compositor.temporal.metrics import _Tally
from compositor.temporal.motion_ahead import Analysed, MotionAhead

SIZE = (160, 96)
FRAMES = 20
NAMES = ("the input", "the guide")


@pytest.fixture(scope="module")
def swan() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(guide, processed): the original frames and a frame-by-frame gray-world balance of them."""
    original = read_clip(SMALL / "blackswan", FRAMES, SIZE)
    return [rgba(f) for f in original], [rgba(f) for f in process(original, "gray_world")]


def _same_motion(a: LazyMotion, b: LazyMotion) -> bool:
    return all(
        np.array_equal(x, y) for x, y in ((a._flow, b._flow), (a._valid, b._valid), (a._trust, b._trust))
    )


@pytest.mark.parametrize("flow_scale", [1.0, 0.5])
def test_the_motion_thread_gives_the_analysers_own_motion(swan, flow_scale: float) -> None:
    guide, _ = swan
    settings = TemporalSettings(flow_scale=flow_scale)
    analyser = MotionAnalyser.for_settings(SIZE[0], SIZE[1], settings)
    ahead = MotionAhead(iter(guide), settings, depth=4)
    try:
        analysed = list(ahead)
    finally:
        ahead.close()
    assert len(analysed) == FRAMES and analysed[0].pair is None and all(a.done for a in analysed)
    prepared = [analyser.prepare(g) for g in guide]
    for t in range(1, FRAMES):
        back, ahead_motion = analyser.pair(prepared[t - 1], prepared[t])
        got_back, got_ahead = analysed[t].pair
        assert _same_motion(got_back, back) and _same_motion(got_ahead, ahead_motion), t
        assert np.array_equal(got_back.sample_at, back.sample_at)
    # The motion moves: the comparison above is not between identity motions.
    assert np.abs(analysed[5].pair[0]._flow).max() > 0.5


class _Inline:
    """The measurement as it was: each frame measured in the pass's own thread as it comes out."""

    def __init__(self, tally: _Tally):
        self.tally = tally

    def frame(self, cur, out, prev) -> None:
        if prev is None:
            self.tally.fidelity(out, cur)
        else:
            prev_in, prev_out, back = prev
            self.tally.frame(cur, out, moved(prev_in, back), moved(prev_out, back), back.valid)


def _one_thread(
    monkeypatch: pytest.MonkeyPatch, frames, guide, settings, tally=None, painted=None
) -> list[np.ndarray]:
    """The pass as it was: the motion computed in the pass's own thread (every guide frame handed on
    unanalysed, ``Analysed(frame)``: the pass analyses it itself), every backward sweep run to the window's
    first frame, and each frame measured there too."""
    unanalysed = (Analysed(np.ascontiguousarray(g, dtype=np.float32)) for g in guide)
    sweep = _Sweeper.sweep
    measure = _Inline(tally) if tally is not None else None
    with monkeypatch.context() as m:
        m.setattr(_Sweeper, "sweep", lambda self, *a, down_to=0, **k: sweep(self, *a, **k))
        return list(_windows(frames, unanalysed, settings, measure, NAMES, painted, 0, None, 0))


SETTINGS = [
    TemporalSettings(),
    TemporalSettings(flow_scale=0.5, window=4, context=3),  # windows with context before and after their core
    TemporalSettings(window=5, keyframe_interval=6),  # links the pass does not cross inside the context
    TemporalSettings(window=3, detail=0.5),
    TemporalSettings(window=4, context=2, keyframe_interval=6),  # a window's context starting on a keyframe
]


@pytest.mark.parametrize(
    "settings", SETTINGS, ids=["default", "half-res-flow", "keyframes", "detail", "context-on-keyframe"]
)
def test_the_pass_gives_the_frames_and_figures_it_gave_on_one_thread(swan, settings, monkeypatch) -> None:
    guide, processed = swan
    tally_ref, tally = _Tally(), _Tally()
    ref = _one_thread(monkeypatch, processed, guide, settings, tally_ref)
    got = list(_run_windows(processed, guide, settings, tally, NAMES, None, 0, None, 0))
    assert len(got) == len(ref) == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(got, ref))
    assert tally.result() == tally_ref.result()
    assert max(np.abs(a - p).max() for a, p in zip(got, processed)) > 0.01  # the pass did something


def test_the_pass_in_paint_mode_gives_the_same_frames(swan, monkeypatch) -> None:
    guide, processed = swan
    settings = TemporalSettings(paint_every=4, window=6)
    keys = [0, 4, 8, 12, 16, 19]
    frames = [p if i in keys else None for i, p in enumerate(processed)]
    ref = _one_thread(monkeypatch, frames, guide, settings, painted=keys)
    got = list(_run_windows(frames, guide, settings, None, NAMES, keys, 0, None, 0))
    assert all(np.array_equal(a, b) for a, b in zip(got, ref)) and len(got) == FRAMES


def _items(guide, processed, settings) -> tuple[_Sweeper, list[_Item]]:
    analyser = MotionAnalyser.for_settings(SIZE[0], SIZE[1], settings)
    prepared = [analyser.prepare(g) for g in guide]
    items = [_Item(i, p, None) for i, p in enumerate(processed)]
    for t in range(1, len(items)):
        items[t].back, items[t - 1].ahead = analyser.pair(prepared[t - 1], prepared[t])
    return _Sweeper(settings, analyser, False), items


@pytest.mark.parametrize("flow_scale", [1.0, 0.5])
def test_a_backward_sweep_stopped_early_gives_the_full_sweeps_states(swan, flow_scale: float) -> None:
    guide, processed = swan
    sweeper, items = _items(guide[:12], processed[:12], TemporalSettings(flow_scale=flow_scale))
    full = sweeper.sweep(items, False)
    part = sweeper.sweep(items, False, down_to=5)
    assert all(state is None for state in part[:5])
    for i in range(5, 12):
        assert np.array_equal(part[i][0], full[i][0]) and np.array_equal(part[i][1], full[i][1]), i
    assert not np.array_equal(full[4][0], full[5][0])


def test_the_kept_sample_map_is_the_fresh_one(swan) -> None:
    guide, _ = swan
    analyser = MotionAnalyser(SIZE[0], SIZE[1], flow_scale=0.5)
    a, b, c = (analyser.prepare(g) for g in guide[:3])
    first, second = analyser.pair(a, b)[0], analyser.pair(b, c)[0]
    m1 = first.sample_at
    assert first.sample_at is m1  # kept
    assert np.array_equal(m1, analyser._make_full(first._flow))
    m2 = second.sample_at  # another motion: its own map, not the kept one
    assert np.array_equal(m2, analyser._make_full(second._flow)) and not np.array_equal(m1, m2)
    assert np.array_equal(first.sample_at, m1)  # built again, the same


@pytest.mark.parametrize("qc", [None, {}], ids=["unmeasured", "measured"])
def test_stopping_the_pass_early_stops_its_threads(swan, qc) -> None:
    guide, processed = swan
    before = threading.active_count()
    outputs = deflicker(processed, guide, TemporalSettings(window=4), qc=qc)
    next(outputs)
    # the motion thread and the guide's reader run (and the measurement's, measured)
    assert threading.active_count() >= before + (3 if qc is not None else 2)
    outputs.close()
    assert threading.active_count() == before
    assert qc in (None, {})  # a pass stopped early reports nothing


def _guide_failing_at(guide: list[np.ndarray], n: int) -> Iterator[np.ndarray]:
    for i, g in enumerate(guide):
        if i == n:
            raise OSError(f"guide frame {n + 1} is unreadable")
        yield g


def test_an_error_reading_the_guide_is_raised_by_the_pass(swan) -> None:
    guide, processed = swan
    with pytest.raises(OSError, match="guide frame 7 is unreadable"):
        list(deflicker(processed, _guide_failing_at(guide, 6), TemporalSettings(window=4)))


def test_a_guide_frame_of_another_size_is_still_one_line(swan) -> None:
    guide, processed = swan
    bad = guide[:9] + [np.zeros((SIZE[1] + 2, SIZE[0], 4), np.float32)] + guide[10:]
    with pytest.raises(SpecError, match="frame 10 has shape"):
        list(deflicker(processed, bad, TemporalSettings(window=4)))


def test_files_to_files_reading_ahead_gives_the_in_memory_passs_frames(swan, tmp_path) -> None:
    from compositor.core.io import read_image, write_image

    guide, processed = swan
    for i, (g, p) in enumerate(zip(guide, processed)):
        write_image(tmp_path / "src" / f"{i + 1:04d}.png", g)
        write_image(tmp_path / "proc" / f"{i + 1:04d}.png", p)
    src = [read_image(tmp_path / "src" / f"{i + 1:04d}.png") for i in range(FRAMES)]
    proc = [read_image(tmp_path / "proc" / f"{i + 1:04d}.png") for i in range(FRAMES)]
    settings = TemporalSettings(window=6)
    qc: dict = {}
    ref = list(deflicker(proc, src, settings, qc=qc))
    result = deflicker_files(
        str(tmp_path / "proc" / "%04d.png"), str(tmp_path / "src" / "%04d.png"), tmp_path / "out", settings
    )
    assert (
        result["frames"] == FRAMES
        and result["e_warp_after"] == qc["e_warp_after"]
        and result["psnr"] == qc["psnr"]
    )
    for i in range(FRAMES):
        written = read_image(tmp_path / "out" / f"{i + 1:04d}.png")
        assert np.abs(written - ref[i]).max() <= 0.5 / 255 + 1e-6  # 8-bit PNG of the same frame


@pytest.mark.parametrize(
    ("size", "flow_scale", "relative"),
    [((160, 96), 1.0, True), ((160, 96), 0.5, True), ((160, 96), 0.25, True), ((157, 93), 0.5, False)],
)
def test_the_warp_by_relative_map_is_the_absolute_maps_bit_for_bit(swan, size, flow_scale, relative) -> None:
    guide, processed = swan
    w, h = size
    frames = [np.ascontiguousarray(g[:h, :w]) for g in guide[:2]]
    analyser = MotionAnalyser(w, h, flow_scale=flow_scale)
    back, ahead = analyser.pair(analyser.prepare(frames[0]), analyser.prepare(frames[1]))
    assert (analyser._relative(back._flow) is not None) == relative  # the fast path where it is exact
    image = np.ascontiguousarray(processed[0][:h, :w])
    for motion in (back, ahead):
        reference = cv2.remap(
            image, motion.sample_at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        assert np.array_equal(motion.warp(image), reference)
        assert np.array_equal(motion.warp(image[:, :, 0].copy()), reference[:, :, 0])
    assert np.abs(back.warp(image) - image).max() > 0.01  # the warp moved something


@pytest.mark.parametrize("flow_scale", [1.0, 0.5])
def test_the_weights_warp_at_flow_resolution_is_the_absolute_maps_bit_for_bit(swan, flow_scale) -> None:
    guide, _ = swan
    analyser = MotionAnalyser(*SIZE, flow_scale=flow_scale)
    back, ahead = analyser.pair(analyser.prepare(guide[0]), analyser.prepare(guide[1]))
    sw, sh = analyser._small
    rng = np.random.default_rng(4)
    weight = (rng.random((sh, sw), dtype=np.float32) * 3).astype(np.float32)
    for motion in (back, ahead):
        reference = cv2.remap(
            weight, motion.small_at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        assert np.array_equal(motion.warp_small(weight), reference)
    # Flows far larger than the footage's, off the frame and between the 1/32-pixel steps of OpenCV's tables.
    wild = LazyMotion(
        analyser, (rng.standard_normal((sh, sw, 2)) * 40).astype(np.float32), back._valid, back._trust
    )
    reference = cv2.remap(weight, wild.small_at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(wild.warp_small(weight), reference)
    assert np.abs(back.warp_small(weight) - weight).max() > 0.01  # the warp moved something


def test_an_error_while_writing_ends_every_thread_at_once(swan, tmp_path) -> None:
    """The pass's motion thread reads from the guide's reader: closing them in the wrong order left the motion
    thread waiting on a reader that had stopped (and the error's exit waiting on its join)."""
    from compositor.core.io import write_image

    guide, processed = swan
    for i, (g, p) in enumerate(zip(guide, processed)):
        write_image(tmp_path / "src" / f"{i + 1:04d}.png", g)
        write_image(tmp_path / "proc" / f"{i + 1:04d}.png", p)

    def progress(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    before = set(threading.enumerate())
    try:
        deflicker_files(
            str(tmp_path / "proc" / "%04d.png"), str(tmp_path / "src" / "%04d.png"), tmp_path / "out",
            TemporalSettings(window=4), progress=progress,
        )  # fmt: skip
    except KeyboardInterrupt:
        # While the caller handles the error (its traceback alive), nothing of the pass runs any more.
        assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []
    else:
        pytest.fail("the error from progress was not raised")
