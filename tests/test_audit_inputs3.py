"""Bad input found by a third adversarial pass (the edit and editorial side, encode presets, camera keys; the
first two: ``test_audit_inputs.py``, ``test_audit_inputs2.py``): each case is one line naming the file and the
key, exit status 1 and no traceback; legal-but-odd input renders as an editor would expect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_grid
from tests.test_validate import compositor

CUT = "t1"

SHOT = """
[shot]
frames = 4

[background]
source = "procedural"
seed = 7

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 2 . 1"
"""


@pytest.fixture
def prod(production_factory):
    def make(spec: str = SHOT, size: tuple[int, int] = (32, 24)) -> Path:
        root = production_factory({CUT: spec}, size=size)
        write_grid(root / "shots" / CUT / "cels/A/A_0001.png", "RR\nRR")
        write_grid(root / "shots" / CUT / "cels/A/A_0002.png", "GG\nGG")
        return root

    return make


# ------------------------------------------------------------------------------------------------------------
# A frame too small for the preset's encoder


def test_a_cut_too_small_for_x265_is_refused_naming_the_preset(prod, capsys) -> None:
    """A 2x2 cut encoded with ``hevc_review`` (x265 opens no frame under 16 px) passed validate, composited,
    then failed as "render/t1/segments/hevc_review/t1.0001-0004.<key>.mp4: ffmpeg failed: Could not open
    encoder before EOF", naming neither the preset nor its key; DNxHR's 256x120 was already checked so."""
    root = prod('encode = "hevc_review"\n' + SHOT, size=(2, 2))
    line = "shots/t1/shot.toml: encode: 'hevc_review' is H.265 (x265), which needs frames of at least 16x16, but the cut is 2x2"
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])
    assert not (root / "render" / CUT / "comp").exists() or not any((root / "render" / CUT / "comp").iterdir())


def test_a_cut_too_small_for_x265_asked_for_by_name_is_one_line(prod, capsys) -> None:
    """``compositor encode t1 --preset hevc_review`` on a 2x2 cut: the same encoder failure, now the preset's line."""
    root = prod(size=(2, 2))
    assert compositor(root, capsys, "encode", CUT, "--preset", "hevc_review") == (
        1, ["templates/encode/hevc_review.toml: codec: H.265 (x265) needs frames of at least 16x16, but t1 is 2x2"])


def test_a_cut_x265_takes_once_padded_is_encoded(prod, capsys) -> None:
    """15x15 is padded to 16x16 for 4:2:0 chroma, which x265 takes: an odd size an editor may use renders."""
    root = prod(size=(15, 15))
    assert compositor(root, capsys, "encode", CUT, "--preset", "hevc_review") == (0, [])
    assert (root / "render" / CUT / f"{CUT}.hevc_review.mp4").is_file()
