"""The temporal-consistency pass (compositor.temporal) and the per-frame stylisation it steadies.

Synthetic scenes are built from smooth multi-scale noise so that optical flow is well defined; the flow
convention is checked on a real pair with ground truth (tests/data/flow, from mmflow).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor import temporal
from compositor.core.io import read_image, write_image
from compositor.core.stylize import stylize
from compositor.errors import SpecError
from compositor.temporal import (
    FlowEstimator,
    MotionAnalyser,
    TemporalSettings,
    deflicker,
    deflicker_files,
    flow_grey,
    measure,
    qc_files,
    warp,
    warp_error,
)

DATA = Path(__file__).parent / "data" / "flow"
H, W = 96, 128
FULL_RES = {"flow": "dis_medium", "flow_scale": 1.0}
"""Tiny frames: flow at full resolution (the default half resolution is for HD frames)."""


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Opaque premultiplied RGBA ``(h, w, 4)``: smooth colour noise at several scales, in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    rgb = np.zeros((h, w, 3), np.float32)
    for sigma, weight in ((1.0, 0.3), (3.0, 0.4), (8.0, 0.3)):
        noise = rng.standard_normal((h, w, 3)).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
        rgb += weight * noise / noise.std()
    rgb = 0.5 + 0.13 * rgb
    return cv2.cvtColor(np.clip(rgb, 0.1, 0.9), cv2.COLOR_RGB2RGBA)


def pan(frames: int, step: tuple[int, int] = (2, 1), seed: int = 1) -> list[np.ndarray]:
    """A camera pan over a larger texture: a window moving ``step`` pixels a frame."""
    big = texture(H + frames * step[1] + 1, W + frames * step[0] + 1, seed)
    return [big[i * step[1] : i * step[1] + H, i * step[0] : i * step[0] + W].copy() for i in range(frames)]


def flicker(frames: list[np.ndarray], seed: int = 7, amount: float = 0.06) -> list[np.ndarray]:
    """Random per-frame colour gain and offset, as frame-by-frame processing gives."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        g = f.copy()
        g[:, :, :3] = np.clip(g[:, :, :3] * rng.normal(1, amount, 3) + rng.normal(0, amount / 2, 3), 0, 1)
        out.append(g.astype(np.float32))
    return out


def read_flo(path: Path) -> np.ndarray:
    data = np.fromfile(path, np.uint8)
    w, h = data[4:12].view(np.int32)
    return data[12:].view(np.float32).reshape(h, w, 2)


# ----------------------------------------------------------------------------------------------------------------
# Flow and warping conventions, on real data


def test_warp_with_ground_truth_flow_lines_frames_up() -> None:
    img1, img2 = read_image(DATA / "00001_img1.ppm"), read_image(DATA / "00001_img2.ppm")
    flow = read_flo(DATA / "00001_flow.flo")
    h, w = flow.shape[:2]
    grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    aligned = warp(img2, grid + flow)
    assert np.abs(aligned - img1).mean() < 0.6 * np.abs(img2 - img1).mean()


@pytest.mark.parametrize("method", ["dis_ultrafast", "dis_fast", "dis_medium", "farneback"])
def test_flow_estimators_follow_the_ground_truth(method: str) -> None:
    img1, img2 = read_image(DATA / "00001_img1.ppm"), read_image(DATA / "00001_img2.ppm")
    truth = read_flo(DATA / "00001_flow.flo")
    flow = FlowEstimator(method)(flow_grey(img1), flow_grey(img2))
    epe = np.linalg.norm(flow - truth, axis=2).mean()
    zero = np.linalg.norm(truth, axis=2).mean()
    assert flow.shape == truth.shape
    assert epe < 0.75 * zero


def test_pure_pan_is_found_and_trusted() -> None:
    frames = pan(2, step=(3, 2))
    analyser = MotionAnalyser(W, H, **FULL_RES)
    motion = analyser(analyser.prepare(frames[0]), analyser.prepare(frames[1]))
    assert motion.sample_at is not None
    inner = (slice(10, H - 10), slice(10, W - 10))
    grid = np.dstack(np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32)))
    flow = motion.sample_at - grid
    # Frame 1 shows the scene moved 3 right / 2 down, so its pixels were 3 right / 2 down in frame 0.
    assert np.allclose(np.median(flow[inner], axis=0), (3, 2), atol=0.25)
    assert motion.valid[inner].mean() > 0.95
    assert motion.trust[inner].mean() > 0.9


# ----------------------------------------------------------------------------------------------------------------
# The pass


def test_static_scene_stays_exactly_as_it_is() -> None:
    still = texture(H, W, 3)
    frames = [still.copy() for _ in range(6)]
    out = list(deflicker(iter(frames), iter([f.copy() for f in frames]), TemporalSettings(**FULL_RES)))
    assert len(out) == 6
    for o in out:
        assert o.dtype == np.float32 and o.shape == still.shape
        assert np.array_equal(o, still)


def test_pan_with_flicker_comes_out_steadier() -> None:
    clean = pan(10)
    noisy = flicker(clean)
    settings = TemporalSettings(**FULL_RES)
    out = list(deflicker(noisy, clean, settings))
    qc = measure(noisy, out, clean, **FULL_RES)
    assert qc["frames"] == 10
    assert qc["e_warp_after"] < 0.3 * qc["e_warp_before"]
    assert qc["psnr"] > 25
    # The same figure, one sequence at a time.
    assert warp_error(out, clean, **FULL_RES) == pytest.approx(qc["e_warp_after"], rel=1e-6)
    assert warp_error(noisy, clean, **FULL_RES) == pytest.approx(qc["e_warp_before"], rel=1e-6)


def test_long_subpixel_pan_does_not_drift() -> None:
    big = texture(H + 200, W + 200, 21)
    shift = [np.float32([[1, 0, -1.37 * i], [0, 1, -0.61 * i]]) for i in range(80)]
    frames = [cv2.warpAffine(big, m, (W, H), borderMode=cv2.BORDER_REFLECT) for m in shift]
    out = list(deflicker(frames, frames, TemporalSettings(**FULL_RES)))
    error = [np.abs(o - f)[..., :3].mean() for o, f in zip(out, frames)]
    # Resampling softens a little, but a frame's weight fades as strength^age: the error stays where it was.
    assert max(error) < 0.01
    assert max(error[60:]) < 1.5 * max(error[5:20])


def occluding_square(frames: int, size: int = 30, step: int = 5) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A textured square sliding right over a still background; returns the frames and the square's masks."""
    background = texture(H, W, 11)
    square = texture(size, size, 12)
    square[:, :, :3] = 0.55 + 0.8 * (square[:, :, :3] - 0.5)  # brighter, with its own texture
    out, masks = [], []
    for i in range(frames):
        f = background.copy()
        x, y = 10 + i * step, 30
        f[y : y + size, x : x + size] = square
        mask = np.zeros((H, W), bool)
        mask[y : y + size, x : x + size] = True
        out.append(f)
        masks.append(mask)
    return out, masks


def test_what_an_object_uncovers_shows_no_ghost() -> None:
    frames, masks = occluding_square(12)
    ours = list(deflicker(frames, frames, TemporalSettings(**FULL_RES)))
    naive = list(deflicker(frames, frames, TemporalSettings(**FULL_RES, occlusion=False, strength=0.9)))
    covered_before = np.zeros((H, W), bool)
    errors_ours, errors_naive = [], []
    for t in range(1, len(frames)):
        covered_before |= masks[t - 1]
        uncovered = covered_before & ~masks[t]
        errors_ours.append(np.abs(ours[t] - frames[t])[uncovered].mean())
        errors_naive.append(np.abs(naive[t] - frames[t])[uncovered].mean())
    # The uncovered background is this frame's own, not a trail of the square ...
    assert max(errors_ours) < 0.01, errors_ours
    # ... which an average without occlusion handling does leave.
    assert max(errors_naive) > max(0.015, 3 * max(errors_ours))


def test_keyframes_pass_the_input_through() -> None:
    clean = pan(8)
    noisy = flicker(clean)
    out = list(deflicker(noisy, clean, TemporalSettings(**FULL_RES, keyframe_interval=3)))
    for i in (0, 3, 6):
        assert np.array_equal(out[i], noisy[i])
    assert not np.array_equal(out[4], noisy[4])
    # A chunk starting on a keyframe renders the same pixels as the whole run.
    chunk = list(deflicker(noisy[3:], clean[3:], TemporalSettings(**FULL_RES, keyframe_interval=3)))
    for a, b in zip(chunk, out[3:]):
        assert np.array_equal(a, b)


def test_strength_zero_is_the_identity() -> None:
    clean = pan(4)
    noisy = flicker(clean)
    out = list(deflicker(noisy, clean, TemporalSettings(**FULL_RES, strength=0.0)))
    assert all(np.array_equal(a, b) for a, b in zip(out, noisy))


def test_transparent_frames_stay_premultiplied() -> None:
    clean = pan(5)
    for f in clean:
        f[:, : W // 2, 3] = 0.5
        f[:, : W // 2, :3] *= 0.5
    noisy = flicker(clean, amount=0.1)
    for o in deflicker(noisy, clean, TemporalSettings(**FULL_RES)):
        assert (o[:, :, :3] <= o[:, :, 3:4] + 1e-6).all()
        assert o.min() >= 0 and o.max() <= 1


def test_deflicker_streams() -> None:
    clean = pan(6)
    noisy = flicker(clean)
    consumed: list[int] = []

    def frames() -> Iterator[np.ndarray]:
        for i, f in enumerate(noisy):
            consumed.append(i)
            yield f

    # A window of two frames with one frame of context either side: the pass reads only that far ahead.
    out = deflicker(frames(), iter(clean), TemporalSettings(**FULL_RES, window=2, context=1))
    assert consumed == []
    next(out)
    assert consumed == [0, 1, 2]
    next(out)
    assert consumed == [0, 1, 2]
    next(out)
    assert consumed == [0, 1, 2, 3, 4]
    assert len(list(out)) == 3


# ----------------------------------------------------------------------------------------------------------------
# Bad input: one line, naming both sides


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_size_mismatch_is_one_line_before_any_output() -> None:
    frames = pan(3)
    guide = [cv2.resize(f, (W + 8, H)) for f in frames]
    out = deflicker(frames, guide)
    with pytest.raises(SpecError) as err:
        next(out)
    message = one_line(err)
    assert f"{W}x{H}" in message and f"{W + 8}x{H}" in message


def test_frame_count_mismatch_is_one_line() -> None:
    frames = pan(5)
    with pytest.raises(SpecError) as err:
        list(deflicker(frames, frames[:4], TemporalSettings(**FULL_RES)))
    message = one_line(err)
    assert "has more than 4 frames" in message and "has 4" in message


def write_sequence(folder: Path, frames: list[np.ndarray]) -> str:
    for i, f in enumerate(frames, start=1):
        write_image(folder / f"{i:04d}.png", f)
    return str(folder / "%04d.png")


def test_files_with_different_counts_or_sizes_are_refused(tmp_path: Path) -> None:
    frames = pan(5)
    proc = write_sequence(tmp_path / "proc", frames)
    src = write_sequence(tmp_path / "src", frames[:4])
    with pytest.raises(SpecError) as err:
        deflicker_files(proc, src, tmp_path / "out")
    message = one_line(err)
    assert proc in message and src in message and "has 5 frames" in message and "has 4" in message
    assert not (tmp_path / "out").exists()

    wide = write_sequence(tmp_path / "wide", [cv2.resize(f, (W + 8, H)) for f in frames])
    with pytest.raises(SpecError) as err:
        deflicker_files(proc, wide, tmp_path / "out2")
    message = one_line(err)
    assert proc in message and wide in message and f"{W}x{H}" in message and f"{W + 8}x{H}" in message


def test_deflicker_files_and_qc(tmp_path: Path) -> None:
    clean = pan(8)
    proc = write_sequence(tmp_path / "proc", flicker(clean))
    src = write_sequence(tmp_path / "src", clean)
    seen: list[tuple[int, int]] = []
    qc = deflicker_files(
        proc, src, tmp_path / "out", TemporalSettings(**FULL_RES), lambda i, n: seen.append((i, n))
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i:04d}.png" for i in range(1, 9)]
    assert seen[-1] == (8, 8)
    assert qc["frames"] == 8 and qc["fps"] > 0
    assert qc["e_warp_after"] < 0.3 * qc["e_warp_before"]
    assert qc["psnr"] > 25

    again = qc_files(proc, src, str(tmp_path / "out" / "%04d.png"), flow="dis_medium", flow_scale=1.0)
    assert again["e_warp_before"] == pytest.approx(qc["e_warp_before"], rel=0.05)
    assert again["e_warp_after"] == pytest.approx(qc["e_warp_after"], rel=0.2, abs=2e-5)
    alone = qc_files(proc, src, flow="dis_medium", flow_scale=1.0)
    assert alone["e_warp_before"] == pytest.approx(again["e_warp_before"])
    assert alone["e_warp_after"] is None


def test_unknown_flow_method_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="temporal.flow"):
        TemporalSettings(flow="raft")


# ----------------------------------------------------------------------------------------------------------------
# Stylisation


@pytest.mark.parametrize("mode", ["paint", "cel"])
def test_stylize_is_seeded_per_frame(mode: str) -> None:
    frame = texture(H, W, 5)
    a, b, c = stylize(frame, mode, 1), stylize(frame, mode, 1), stylize(frame, mode, 2)
    assert a.shape == frame.shape and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.array_equal(a[:, :, 3], frame[:, :, 3])
    assert 0 <= a.min() and a.max() <= 1


def test_stylize_keeps_alpha_and_premultiplication() -> None:
    frame = texture(H, W, 5)
    frame[:, :, 3] = np.linspace(0, 1, W, dtype=np.float32)[None, :]
    frame[:, :, :3] *= frame[:, :, 3:4]
    out = stylize(frame, "paint", 0)
    assert np.array_equal(out[:, :, 3], frame[:, :, 3])
    assert (out[:, :, :3] <= out[:, :, 3:4] + 1e-6).all()


def test_stylize_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        stylize(texture(16, 16, 0), "oil", 0)


@pytest.mark.skipif(not temporal.HAVE_NUMBA, reason="numba is not installed: only the numpy kernels run")
def test_compiled_kernels_equal_the_numpy_ones() -> None:
    rng = np.random.default_rng(0)
    cur, warped, low = (rng.random((37, 53, 4), dtype=np.float32) for _ in range(3))
    low -= 0.5
    cur[..., 3] = 1.0
    warped[:5, :, 3] = 0.5
    trust = rng.random((37, 53), dtype=np.float32)
    trust[trust < 0.3] = 0
    a, b = np.empty_like(cur), np.empty_like(cur)
    mask = (trust > 0).view(np.uint8)
    d_prev = rng.random((37, 53), dtype=np.float32) * 3
    s_a = np.empty_like(cur)
    temporal._carry_kernel(warped, d_prev, cur, s_a)
    assert np.abs(s_a - temporal._np_carry(warped, d_prev, cur)).max() <= 1e-6
    d_other = d_prev + 1
    temporal._combine_kernel(warped, d_other, low, d_other, cur, a, False)
    b = temporal._np_combine(warped, d_other, low, d_other, cur)
    assert np.abs(a - b).max() <= 1e-6
    sse, count = temporal._sse_rgb_kernel(cur, warped, mask, True)
    expected = (((cur - warped)[..., :3] ** 2).sum(axis=2) * mask).sum(dtype=np.float64)
    assert count == mask.sum() and sse == pytest.approx(expected, rel=1e-5)
    rest = [rng.random((37, 53, 4), dtype=np.float32) for _ in range(2)]
    compiled = temporal._pair_stats_kernel(cur, warped, rest[0], rest[1], mask)
    plain = (
        float((((warped - cur)[..., :3]) ** 2).sum(dtype=np.float64)),
        float(((((cur - rest[0])[..., :3]) ** 2).sum(axis=2) * mask).sum(dtype=np.float64)),
        float(((((warped - rest[1])[..., :3]) ** 2).sum(axis=2) * mask).sum(dtype=np.float64)),
        int(mask.sum()),
    )
    assert compiled == pytest.approx(plain, rel=1e-5)
    backward = (np.float32([1.5, -0.5]) + rng.normal(0, 0.01, (30, 40, 2))).astype(np.float32)
    backward[:, 30:] += np.float32(3.0)  # a motion boundary
    forward_at = rng.normal(0, 2, (30, 40, 2)).astype(np.float32)
    forward_at[:15] = -backward[:15] + rng.normal(0, 0.3, (15, 40, 2)).astype(np.float32)
    pos = (np.dstack(np.meshgrid(np.arange(40), np.arange(30))) + backward).astype(np.float32)
    valid_a, valid_b = np.empty((30, 40), np.uint8), np.empty((30, 40), np.uint8)
    temporal._checks_kernel(backward, forward_at, pos, np.float32(4.0), valid_a)
    temporal._np_checks(backward, forward_at, pos, np.float32(4.0), valid_b)
    assert np.array_equal(valid_a, valid_b) and 0 < valid_a.mean() < 1


def test_deflicker_reports_the_measurements_of_its_own_run() -> None:
    clean = pan(6)
    noisy = flicker(clean)
    qc: dict = {}
    out = list(deflicker(noisy, clean, TemporalSettings(**FULL_RES), qc=qc))
    assert qc == pytest.approx(measure(noisy, out, clean, **FULL_RES), rel=1e-6)


def test_a_longer_guide_or_a_frame_of_another_size_is_one_line() -> None:
    frames = pan(4)
    with pytest.raises(SpecError) as err:
        list(deflicker(frames[:3], frames, TemporalSettings(**FULL_RES)))
    assert "has 3 frames" in one_line(err) and "more than 3" in one_line(err)
    odd = frames[:2] + [cv2.resize(frames[2], (W // 2, H // 2))] + frames[3:]
    with pytest.raises(SpecError) as err:
        list(deflicker(odd, frames, TemporalSettings(**FULL_RES)))
    assert "frame 3" in one_line(err)
    with pytest.raises(SpecError) as err:
        list(deflicker(frames, odd, TemporalSettings(**FULL_RES)))
    assert "the guide: frame 3" in one_line(err)
    assert list(deflicker([], [])) == []


@pytest.mark.skipif(not temporal.HAVE_NUMBA, reason="numba is not installed: only the numpy kernels run")
def test_the_pass_without_numba_gives_the_same_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    clean = pan(6)
    clean[2][:, : W // 3, 3] = 0.5  # some transparency too
    clean[2][:, : W // 3, :3] *= 0.5
    noisy = flicker(clean)
    qc_compiled: dict = {}
    compiled = list(deflicker(noisy, clean, TemporalSettings(**FULL_RES), qc=qc_compiled))
    from compositor.temporal import flow, kernels

    for module in (flow, kernels):  # every module that picks a kernel by the flag
        monkeypatch.setattr(module, "HAVE_NUMBA", False)
    qc_plain: dict = {}
    plain = list(deflicker(noisy, clean, TemporalSettings(**FULL_RES), qc=qc_plain))
    for a, b in zip(compiled, plain):
        assert np.abs(a - b).max() <= 1e-5
    assert qc_plain == pytest.approx(qc_compiled, rel=1e-4)


def test_deflicker_files_keeps_a_16_bit_input_16_bit(tmp_path: Path) -> None:
    """A 16-bit plate steadied is written at 16 bits: levels between two 8-bit ones survive the pass (at 8 bits
    every sample would land on a multiple of 257); an 8-bit input stays 8-bit."""
    clean = pan(6)
    deep = tmp_path / "deep"
    deep.mkdir()
    for i, frame in enumerate(clean, 1):
        rgb16 = np.round(frame[:, :, 2::-1] * 65535).astype(np.uint16)
        assert cv2.imwrite(str(deep / f"{i:04d}.png"), rgb16)
    src = write_sequence(tmp_path / "src", clean)
    deflicker_files(str(deep / "%04d.png"), src, tmp_path / "out16", TemporalSettings(**FULL_RES))
    out = cv2.imread(str(tmp_path / "out16" / "0003.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (H, W, 3)
    assert np.count_nonzero(out % 257) > 0.9 * out.size
    # still the pass's frame: within an 8-bit step of the same pass written at 8 bits
    deflicker_files(src, src, tmp_path / "out8", TemporalSettings(**FULL_RES))
    out8 = cv2.imread(str(tmp_path / "out8" / "0003.png"), cv2.IMREAD_UNCHANGED)
    assert out8.dtype == np.uint8
    assert np.abs(out.astype(np.float64) / 257 - out8).max() <= 2.0


def test_a_cluster_window_keeps_a_16_bit_input_16_bit_as_a_local_run(tmp_path: Path) -> None:
    """What a Dask worker writes (``steady_window``: here the whole cut as one window) is the local run's file,
    16-bit for a 16-bit input (it was written at 8 bits)."""
    from compositor.temporal.farm import steady_window

    deep = tmp_path / "deep"
    deep.mkdir()
    clean = pan(4)
    for i, frame in enumerate(clean, 1):
        assert cv2.imwrite(str(deep / f"{i:04d}.png"), np.round(frame[:, :, 2::-1] * 65535).astype(np.uint16))
    src = write_sequence(tmp_path / "src", clean)
    settings = TemporalSettings(**FULL_RES)
    deflicker_files(str(deep / "%04d.png"), src, tmp_path / "local", settings)
    assert steady_window(str(deep / "%04d.png"), src, str(tmp_path / "farm"), 0, 4, settings) == 4
    for i in range(1, 5):
        local, farm = (cv2.imread(str(tmp_path / d / f"{i:04d}.png"), cv2.IMREAD_UNCHANGED) for d in ("local", "farm"))
        assert local.dtype == farm.dtype == np.uint16
        assert np.array_equal(local, farm)
