"""The temporal pass's (E_warp, PSNR) curve on real footage processed frame by frame, at its default settings.

E_warp (Lai et al. 2018) with Farneback flow on the ORIGINAL frames, as a share of the processed video's; PSNR
against the processed frames. Material: DAVIS clips (tests/data/davis_small at 160x90, 24 frames) processed by a
Reinhard colour transfer to a changing reference and by a gray-world white balance (tests/processed_video.py).
The pass's flow stays DIS (``dis_fast``): a pass along Farneback, the metric's own flow, scores better by
agreeing with the metric, not by being steadier (see ``DEFAULT_FLOW``).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_temporal_real import clip, scores

from compositor.temporal import TemporalSettings, deflicker
from compositor.temporal.baseline import plain_blend
from compositor.temporal.flow import MotionAnalyser


def _curve(guide, processed, strengths, **settings) -> list[tuple[float, float]]:
    """(E_warp share, PSNR) of the pass at ``strengths``, sorted by PSNR."""
    points = [
        scores(guide, processed, list(deflicker(processed, guide, TemporalSettings(strength=s, **settings))))
        for s in strengths
    ]
    return sorted(points, key=lambda point: point[1])


def _at(curve: list[tuple[float, float]], psnr: float) -> float:
    assert curve[0][1] <= psnr <= curve[-1][1], (psnr, curve)
    return float(np.interp(psnr, [p for _, p in curve], [e for e, _ in curve]))


@pytest.mark.parametrize(("name", "how"), [("blackswan", "reinhard"), ("dance-twirl", "gray_world")])
def test_trusting_the_occlusion_tests_own_mask_moves_the_curve(name: str, how: str) -> None:
    """``margin = 0`` (the default) against the old erosion by a flow pixel: steadier at the same PSNR, not a
    point further along the same curve."""
    guide, processed = clip(name, how)
    before = _curve(guide, processed, (0.35, 0.5), margin=1)
    share, psnr = _curve(guide, processed, (0.4,))[0]
    assert share < _at(before, psnr) - 0.005, (share, psnr, before)


def test_the_pass_stays_above_the_blend_along_the_same_flow() -> None:
    """The plain blend along the pass's own flow and mask is less steady at the pass's PSNR."""
    guide, processed = clip("blackswan", "reinhard")
    flow = TemporalSettings().flow
    curve = sorted(
        (scores(guide, processed, plain_blend(processed, guide, w, flow, 1.0)) for w in (0.5, 1.0, 2.0)),
        key=lambda point: point[1],
    )
    for share, psnr in _curve(guide, processed, (0.4, 0.5)):
        assert share < _at(curve, psnr) - 0.03, (share, psnr, curve)


def test_margin_reaches_every_analyser_of_the_pass() -> None:
    """The one constructor from the settings carries ``margin``, and the pass (its motion thread) uses it."""
    settings = TemporalSettings(margin=2, flow="dis_medium", flow_scale=0.5)
    analyser = MotionAnalyser.for_settings(64, 36, settings)
    assert (analyser.margin, analyser.flow, analyser.flow_scale) == (2, "dis_medium", 0.5)
    guide, processed = clip("blackswan", "reinhard")
    a, b = (list(deflicker(processed[:6], guide[:6], TemporalSettings(margin=m))) for m in (0, 2))
    assert any(not np.array_equal(x, y) for x, y in zip(a, b))


def test_margin_is_a_checked_key() -> None:
    from compositor.errors import SpecError

    assert TemporalSettings().margin == 0 and TemporalSettings().flow == "dis_fast"
    with pytest.raises(SpecError, match="temporal.margin"):
        TemporalSettings(margin=9)
