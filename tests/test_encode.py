"""Encoding a cut with ffmpeg: each movie is checked with the real ffprobe (-count_frames), decoded back."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from compositor.core.io import write_image
from compositor.errors import CorruptInputError, MissingInputError, SpecError
from compositor.spec import EncodePreset, Production, load_preset, load_shot
from compositor.steps.encode import encode_cut, ffmpeg_exe, frame_rate, probe, probe_with_ffmpeg
from tests.conftest import ffprobe_streams

REPO = Path(__file__).resolve().parents[1]
CUT = "sc010_c010"


def make_production(
    root: Path,
    size: tuple[int, int] = (64, 48),
    frames: int = 8,
    start: int = 1,
    fps: float = 24,
    shot_top: str = "",
    presets: dict[str, str] | None = None,
) -> Production:
    """A one-cut production with the repo's encode presets (plus ``presets``: name → TOML text)."""
    (root / "shots" / CUT).mkdir(parents=True)
    (root / "templates" / "styles").mkdir(parents=True)
    (root / "templates" / "styles" / "dusk.toml").write_text('description = "x"\n')
    shutil.copytree(REPO / "templates" / "encode", root / "templates" / "encode")
    for name, text in (presets or {}).items():
        (root / "templates" / "encode" / f"{name}.toml").write_text(textwrap.dedent(text))
    (root / "shots" / "edit.toml").write_text(
        f'[edit]\nname = "tiny"\ntitle = "T"\nfps = {fps}\nsize = [{size[0]}, {size[1]}]\ncuts = ["{CUT}"]\n'
    )
    (root / "shots" / CUT / "shot.toml").write_text(f"{shot_top}[shot]\nframes = {frames}\nstart = {start}\n")
    return Production(root)


def write_comp(production: Production, rgb: tuple[float, float, float] = (0.8, 0.2, 0.1)) -> None:
    """Flat-colour comp frames for the cut, numbered from its start, at its size."""
    shot = load_shot(production, CUT)
    w, h = shot.size
    frame = np.zeros((h, w, 4), np.float32)
    frame[:, :, :3] = rgb
    frame[:, :, 3] = 1
    for n in shot.frame_numbers():
        write_image(shot.out / "comp" / f"{CUT}.{n:04d}.png", frame)


def ffprobe(path: Path) -> dict:
    """The real ffprobe's view of the video stream, decoding every frame."""
    return ffprobe_streams(path)["video"]


def decode(path: Path) -> np.ndarray:
    """Every frame as uint8 RGB, shape (N, H, W, 3)."""
    v = ffprobe(path)
    w, h = int(v["width"]), int(v["height"])
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


# A lossless preset for exact pixel comparisons (what is drawn, and where).
EXACT = """
codec = "libx264"
crf = 0
preset = "ultrafast"
pix_fmt = "yuv444p"
burn_in = true
burn_in_size = 0.1
"""
EXACT_PLAIN = EXACT.replace("burn_in = true", "burn_in = false")


def test_encode_cut_frames_size_rate_codec(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p")
    write_comp(production)
    shot = load_shot(production, CUT)
    calls: list[tuple[str, int, int]] = []
    out = encode_cut(shot, progress=lambda d, done, total: calls.append((d, done, total)))
    assert out == production.render / CUT / f"{CUT}.mp4"
    v = ffprobe(out)
    assert (int(v["nb_read_frames"]), v["width"], v["height"]) == (8, 64, 48)
    assert (v["codec_name"], v["pix_fmt"], v["r_frame_rate"]) == ("h264", "yuv420p", "24/1")
    assert v["color_space"] == "bt709"
    assert calls and calls[-1][1:] == (8, 8) and CUT in calls[-1][0]
    facts = probe(out)
    assert {k: facts[k] for k in ("width", "height", "fps", "frames", "codec", "pix_fmt", "has_audio")} == {
        "width": 64,
        "height": 48,
        "fps": 24.0,
        "frames": 8,
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "has_audio": False,
    }
    assert [p.name for p in out.parent.rglob(".*")] == []


def test_probe_without_ffprobe_reads_ffmpeg(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p", frames=7)
    write_comp(production)
    out = encode_cut(load_shot(production, CUT))
    assert probe_with_ffmpeg(out) | {"duration": 0} == probe(out, count_frames=True) | {"duration": 0}


def test_odd_size_is_padded_by_one_pixel(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p", size=(63, 47))
    write_comp(production, (0.0, 1.0, 0.0))
    out = encode_cut(load_shot(production, CUT))
    v = ffprobe(out)
    assert (v["width"], v["height"], int(v["nb_read_frames"])) == (64, 48, 8)
    frame = decode(out)[4].astype(int)
    assert frame[24, 62, 1] > 200  # the picture is where it was...
    assert frame[24, 63].max() < 40 and frame[47, 30].max() < 40  # ...with a black column and row added


def test_burn_in_is_drawn_and_counts_timesheet_frames(tmp_path: Path) -> None:
    production = make_production(
        tmp_path / "p", size=(128, 72), frames=12, presets={"exact": EXACT, "plain": EXACT_PLAIN}
    )
    write_comp(production, (0.2, 0.4, 0.6))
    shot = load_shot(production, CUT)
    with_text = decode(encode_cut(shot, "exact")).astype(int)
    without = decode(encode_cut(shot, "plain")).astype(int)
    assert np.abs(without - without[0, 36, 64]).max() <= 2  # flat: nothing drawn
    corners = {
        "cut name": (slice(0, 14), slice(0, 64)),
        "frame": (slice(0, 14), slice(90, 128)),
        "title": (slice(58, 72), slice(0, 20)),
    }
    for name, (rows, cols) in corners.items():
        assert np.abs(with_text[0, rows, cols] - without[0, rows, cols]).max() > 100, name
    centre = (slice(20, 50), slice(30, 100))
    assert np.abs(with_text[:, centre[0], centre[1]] - without[:, centre[0], centre[1]]).max() <= 2

    # The number changes every frame, and counts from the cut's start: frame index 4 of a cut numbered from 1
    # shows 0005, as does frame index 0 of the same cut numbered from 5.
    rows, cols = corners["frame"]
    assert np.abs(with_text[4, rows, cols] - with_text[5, rows, cols]).max() > 100
    assert np.abs(with_text[4, :, :64] - with_text[5, :, :64]).max() <= 2  # the cut name does not
    later = make_production(tmp_path / "q", size=(128, 72), frames=4, start=5, presets={"exact": EXACT})
    write_comp(later, (0.2, 0.4, 0.6))
    from_five = decode(encode_cut(load_shot(later, CUT), "exact")).astype(int)
    assert np.abs(from_five[0, rows, cols] - with_text[4, rows, cols]).max() <= 2
    assert np.abs(from_five[0, rows, cols] - with_text[0, rows, cols]).max() > 100


def test_same_frames_give_the_same_bytes(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p")
    write_comp(production)
    shot = load_shot(production, CUT)
    assert encode_cut(shot).read_bytes() == encode_cut(shot).read_bytes()


def test_preset_comes_from_the_cut_then_the_edit(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p", shot_top='encode = "review"\n')
    write_comp(production)
    shot = load_shot(production, CUT)
    # x264 writes its settings into the stream: the preset used can be read back.
    assert b"crf=23.0" in encode_cut(shot).read_bytes()
    assert b"crf=18.0" in encode_cut(shot, "screening").read_bytes()


def test_master_is_444_10bit_without_burn_in(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p", size=(63, 47))
    write_comp(production, (0.5, 0.5, 0.5))
    out = encode_cut(load_shot(production, CUT), "master")
    v = ffprobe(out)
    assert (v["pix_fmt"], v["width"], v["height"], int(v["nb_read_frames"])) == ("yuv444p10le", 63, 47, 8)
    assert v["profile"] == "High 4:4:4 Predictive"
    frames = decode(out).astype(int)
    assert np.abs(frames - 128).max() <= 2  # no burn-in anywhere


def test_fractional_frame_rate(tmp_path: Path) -> None:
    assert str(frame_rate(23.976)) == "24000/1001" and str(frame_rate(29.97)) == "30000/1001"
    assert str(frame_rate(24)) == "24" and str(frame_rate(12.5)) == "25/2"
    production = make_production(tmp_path / "p", fps=23.976, frames=6)
    write_comp(production)
    v = ffprobe(encode_cut(load_shot(production, CUT)))
    assert (v["r_frame_rate"], int(v["nb_read_frames"])) == ("24000/1001", 6)


def test_missing_frame_is_one_line_naming_the_file(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p", start=101)
    write_comp(production)
    (production.render / CUT / "comp" / f"{CUT}.0103.png").unlink()
    with pytest.raises(MissingInputError) as err:
        encode_cut(load_shot(production, CUT))
    message = str(err.value)
    assert "\n" not in message and f"render/{CUT}/comp/{CUT}.0103.png" in message
    assert not (production.render / CUT / f"{CUT}.mp4").exists()


def test_failed_encode_keeps_the_old_movie_and_leaves_no_partial_file(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p")
    write_comp(production)
    shot = load_shot(production, CUT)
    out = encode_cut(shot)
    before = out.read_bytes()
    (production.render / CUT / "comp" / f"{CUT}.0004.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(CorruptInputError) as err:
        encode_cut(shot, "review")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"render/{CUT}/comp/{CUT}.0004.png: cannot decode comp frame 4")
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["comp", f"{CUT}.mp4", "segments"]
    assert [p.name for p in out.parent.rglob(".*")] == []  # no partial file anywhere


def test_interrupted_encode_leaves_nothing(tmp_path: Path) -> None:
    production = make_production(tmp_path / "p")
    write_comp(production)

    def interrupt(description: str, done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        encode_cut(load_shot(production, CUT), progress=interrupt)
    made = sorted(str(p.relative_to(production.render / CUT)) for p in (production.render / CUT).rglob("*.mp4"))
    assert made == []  # no movie, no segment, no partial file
    assert [p.name for p in (production.render / CUT).rglob(".*")] == []


def test_bad_presets_are_one_line_spec_errors(tmp_path: Path) -> None:
    production = make_production(
        tmp_path / "p",
        presets={
            "typo": "crff = 20\n",
            "wrong": 'pix_fmt = "rgb24"\n',
            "broken": "crf = \n",
        },
    )
    with pytest.raises(SpecError, match=r"^templates/encode/typo.toml: crff: unknown key"):
        load_preset(production, "typo")
    with pytest.raises(SpecError, match=r"^templates/encode/wrong.toml: pix_fmt: "):
        load_preset(production, "wrong")
    with pytest.raises(SpecError, match=r"^templates/encode/broken.toml: not valid TOML"):
        load_preset(production, "broken")
    with pytest.raises(SpecError, match=r"no encode preset 'nope' \(have: .*screening"):
        load_preset(production, "nope")
    for name in ("screening", "review", "master"):
        assert isinstance(load_preset(production, name), EncodePreset)


def test_segments_join_without_a_seam_and_only_a_changed_one_is_encoded_again(tmp_path: Path) -> None:
    segmented, whole = EXACT_PLAIN + "segment = 3\n", EXACT_PLAIN + "segment = 100\n"
    production = make_production(tmp_path / "p", frames=8, presets={"seg": segmented, "whole": whole})
    shot = load_shot(production, CUT)
    rng = np.random.default_rng(3)
    w, h = shot.size
    for n in shot.frame_numbers():  # every frame different, so a frame out of place would show
        frame = np.ones((h, w, 4), np.float32)
        frame[:, :, :3] = rng.random((h, w, 3), dtype=np.float32)
        write_image(shot.out / "comp" / f"{CUT}.{n:04d}.png", frame)
    joined = encode_cut(shot, "seg")
    assert sorted(p.name[len(CUT) + 1 : len(CUT) + 10] for p in shot.paths.segments("seg").iterdir()) == [
        "0001-0003",
        "0004-0006",
        "0007-0008",
    ]
    assert np.array_equal(decode(joined), decode(encode_cut(shot, "whole")))  # lossless both: the same frames
    from compositor.steps.encode import ffprobe_exe  # noqa: PLC0415

    listing = subprocess.run(
        [ffprobe_exe(), "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(joined)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = [float(t.strip(",")) for t in listing.split()]
    assert len(times) == 8 and np.allclose(np.diff(times), 1 / 24, atol=2e-6)  # evenly spaced across the joins
    assert float(ffprobe(joined)["duration"]) == pytest.approx(8 / 24, abs=1e-3)

    stamps = {p.name: p.stat().st_mtime_ns for p in shot.paths.segments("seg").iterdir()}
    frame = np.zeros((h, w, 4), np.float32)
    frame[:, :, 3] = 1
    write_image(shot.out / "comp" / f"{CUT}.0005.png", frame)
    encode_cut(shot, "seg")
    after = {p.name: p.stat().st_mtime_ns for p in shot.paths.segments("seg").iterdir()}
    kept = set(stamps) & set(after)
    assert len(kept) == 2 and all(stamps[name] == after[name] for name in kept)  # 0001-0003, 0007-0008
    assert [name for name in after if name not in stamps][0].startswith(f"{CUT}.0004-0006.")
    assert decode(joined)[4].max() < 20
