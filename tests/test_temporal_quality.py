"""The temporal pass's (E_warp, PSNR) point on real footage processed frame by frame, at its default settings.

The issue's goal: E_warp (Lai et al. 2018, Farneback flow on the ORIGINAL frames) at most 30% of the processed
video's, with PSNR against the processed frames of at least 33 dB. Material: DAVIS clips (tests/data/davis_small
at 160x90, 24 frames) processed by a Reinhard colour transfer to a changing reference and by a gray-world white
balance (tests/processed_video.py). The previous defaults (``dis_fast`` flow, trust eroded by a flow pixel) gave
0.29 @ 32.7 dB and 0.28 @ 31.3 dB on the two blackswan clips here: they fail both tests below.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_temporal_real import clip, scores

from compositor.temporal import TemporalSettings, deflicker
from compositor.temporal.baseline import plain_blend

PREVIOUS = {"flow": "dis_fast", "margin": 1}
"""The defaults before Farneback and ``margin = 0``."""


@pytest.mark.parametrize("how", ["reinhard", "gray_world"])
def test_the_default_pass_meets_the_goal_on_blackswan(how: str) -> None:
    guide, processed = clip("blackswan", how)
    share, psnr = scores(guide, processed, list(deflicker(processed, guide, TemporalSettings())))
    assert share <= 0.26 and psnr >= 33.3, (share, psnr)


@pytest.mark.parametrize(("name", "how"), [("dance-twirl", "reinhard"), ("dance-twirl", "stylization")])
def test_the_defaults_beat_the_previous_ones_on_both_axes(name: str, how: str) -> None:
    guide, processed = clip(name, how)
    now = scores(guide, processed, list(deflicker(processed, guide, TemporalSettings())))
    before = scores(guide, processed, list(deflicker(processed, guide, TemporalSettings(**PREVIOUS))))
    # Steadier and more faithful at once: the curve moved, not a point along it.
    assert now[0] < before[0] - 0.03 and now[1] > before[1] + 1.0, (now, before)


def test_the_pass_stays_above_the_blend_along_the_same_flow() -> None:
    """The gain is not the flow's alone: the plain blend along the same Farneback flow and mask is less steady
    at the pass's PSNR (with the old margin of a flow pixel the pass fell below it)."""
    guide, processed = clip("blackswan", "reinhard")
    curve = sorted(
        (
            scores(guide, processed, plain_blend(processed, guide, w, "farneback", 1.0))
            for w in (0.5, 1.0, 2.0)
        ),
        key=lambda point: point[1],
    )
    for strength in (0.4, 0.5):
        share, psnr = scores(
            guide, processed, list(deflicker(processed, guide, TemporalSettings(strength=strength)))
        )
        assert curve[0][1] <= psnr <= curve[-1][1], (psnr, curve)
        blend = float(np.interp(psnr, [p for _, p in curve], [e for e, _ in curve]))
        assert share < blend - 0.015, (strength, share, psnr, blend)


def test_margin_is_a_checked_key() -> None:
    from compositor.errors import SpecError

    assert TemporalSettings().margin == 0 and TemporalSettings().flow == "farneback"
    with pytest.raises(SpecError, match="temporal.margin"):
        TemporalSettings(margin=9)
