"""Bad input found by a third adversarial pass (the edit and editorial side, encode presets, camera keys; the
first two: ``test_audit_inputs.py``, ``test_audit_inputs2.py``): each case is one line naming the file and the
key, exit status 1 and no traceback; legal-but-odd input renders as an editor would expect."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import ONE_CUT as CUT
from tests.conftest import ONE_CUT_SHOT as SHOT
from tests.conftest import REPO
from tests.test_validate import compositor

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


# ------------------------------------------------------------------------------------------------------------
# compositor review


def test_a_review_port_in_use_is_one_line(prod, capsys) -> None:
    """A port another server holds was an OSError traceback ("Address already in use") from http.server."""
    root = prod()
    (root / "render").mkdir()
    (root / "render" / "tiny.html").write_text("<html></html>")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert compositor(root, capsys, "review", "--port", str(port)) == (
            1, [f"review: --port {port}: cannot listen on 127.0.0.1:{port} (Address already in use); "
                "name another port, or --port 0 for any free one"])


def test_a_corrupt_notes_file_is_not_served_over(prod, capsys) -> None:
    """Notes that are not JSON were served as they were, and the first note a reviewer saved replaced the
    file: every note in it lost. The review now refuses in one line, naming the file by its production path
    (the screening cut's exports named it by its absolute path), and the file is left as it was."""
    root = prod()
    (root / "render").mkdir()
    (root / "render" / "tiny.html").write_text("<html></html>")
    notes = root / "render" / "tiny.notes.json"
    notes.write_text('{"notes": [{"frame": 3, "text": "fix the hand"},')
    code, lines = compositor(root, capsys, "review", "--port", "0")
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("render/tiny.notes.json: not readable as review notes (")
    assert lines[0].endswith("; fix it or move it away (the review would overwrite it)")
    assert notes.read_text() == '{"notes": [{"frame": 3, "text": "fix the hand"},'


def test_corrupt_notes_are_named_by_their_production_path_in_the_exports(tmp_path) -> None:
    """The editorial exports refuse a corrupt notes file (else its markers are silently lost) in one line;
    that line named the file by its absolute path."""
    from compositor.errors import CorruptInputError
    from compositor.steps.edit.editorial import read_notes

    notes = tmp_path / "tiny.notes.json"
    notes.write_text("{not json")
    with pytest.raises(CorruptInputError, match=r"^render/tiny\.notes\.json: not readable as review notes \("):
        read_notes(notes, "render/tiny.notes.json")


# ------------------------------------------------------------------------------------------------------------
# A cut's movie cut short


def test_a_cut_movie_cut_short_is_made_again_not_taken_as_done(prod, capsys) -> None:
    """A movie copied halfway keeps its key (the moov box sits at the front of a +faststart file) but loses its
    pictures: `render` took it as fresh and did nothing, and `cut` refused it as "holds 1 frames but t1 has 4
    (re-encode it: `make t1`)", which did nothing again. Now the render joins it again from its segments."""
    from compositor.core.io import mp4_cut_short
    from compositor.steps.encode import probe

    root = prod()
    assert compositor(root, capsys, "render", CUT) == (0, [])
    movie = root / "render" / CUT / f"{CUT}.mp4"
    whole = movie.read_bytes()
    assert not mp4_cut_short(movie)
    movie.write_bytes(whole[: len(whole) // 2])
    assert mp4_cut_short(movie)
    assert compositor(root, capsys, "render", CUT) == (0, [])
    assert not mp4_cut_short(movie) and probe(movie)["frames"] == 4
    assert compositor(root, capsys, "cut") == (0, [])


# ------------------------------------------------------------------------------------------------------------
# A diffusion model named by a hub id, with no network


def test_a_hub_id_without_a_network_is_our_one_line_alone(tmp_path) -> None:
    """Without HF_HUB_OFFLINE and with no network, diffusers logged "Couldn't connect to the Hub: [Errno -2]
    Name or service not known." and "Will try to load from local cache." on stderr above our one line. The
    hub here is a closed local port (nothing is fetched, nothing leaves the machine)."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env |= {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    code = (
        "from compositor.backgrounds.diffusion.models import _hub_folder\n"
        "print(_hub_folder('compositor-audit/no-such-model', 'model'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"
    assert "Couldn't connect" not in done.stderr and "local cache" not in done.stderr, done.stderr
