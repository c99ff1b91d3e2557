"""The screening cut: slate + cuts in order + audio, and its editorial exports (OTIO, EDL, review page)."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from compositor.core.io import read_image, write_image
from compositor.errors import EncodeError, MissingInputError
from compositor.spec import Production, QCRecord, TemporalQC, load_edit, load_shot
from compositor.steps.edit import build_edit
from compositor.steps.encode import encode_cut, ffmpeg_exe
from tests.conftest import ffprobe_streams

REPO = Path(__file__).resolve().parents[1]
SIZE = (64, 48)
# name, frames, first timesheet frame, flat colour
CUTS = [
    ("sc010_c010", 6, 1, (1.0, 0.0, 0.0)),
    ("sc010_c020", 4, 1, (0.0, 1.0, 0.0)),
    ("sc020_c010", 5, 101, (0.0, 0.0, 1.0)),
]
SLATE = 6  # frames: slate = 0.25 s at 24 fps


def make_production(root: Path, slate: float = 0.25, audio: float = 0) -> Production:
    """Three cuts of flat red, green and blue comp frames, each encoded with the screening preset."""
    (root / "templates" / "styles").mkdir(parents=True)
    (root / "templates" / "styles" / "dusk.toml").write_text('description = "x"\n')
    shutil.copytree(REPO / "templates" / "encode", root / "templates" / "encode")
    for name, frames, start, _ in CUTS:
        (root / "shots" / name).mkdir(parents=True)
        (root / "shots" / name / "shot.toml").write_text(f"[shot]\nframes = {frames}\nstart = {start}\n")
    if audio:
        write_tone(root / "shots" / "sound" / "temp_mix.wav", seconds=audio)
    cuts = ", ".join(f'"{c[0]}"' for c in CUTS)
    (root / "shots" / "edit.toml").write_text(
        f'[edit]\nname = "short"\ntitle = "Tiny short"\nfps = 24\nsize = [{SIZE[0]}, {SIZE[1]}]\n'
        f"slate = {slate}\ncuts = [{cuts}]\n" + ('audio = "sound/temp_mix.wav"\n' if audio else "")
    )
    production = Production(root)
    for name, _, _, rgb in CUTS:
        shot = load_shot(production, name)
        frame = np.zeros((SIZE[1], SIZE[0], 4), np.float32)
        frame[:, :, :3], frame[:, :, 3] = rgb, 1
        for n in shot.frame_numbers():
            write_image(shot.out / "comp" / f"{name}.{n:04d}.png", frame)
        encode_cut(shot)
    return production


def write_tone(path: Path, seconds: float, rate: int = 48000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def streams(path: Path) -> dict[str, dict]:
    return ffprobe_streams(path)


def decode(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIZE[1], SIZE[0], 3)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Production, dict[str, Path]]:
    production = make_production(tmp_path_factory.mktemp("cut") / "prod")
    record = QCRecord(cut="sc010_c020", temporal=TemporalQC(e_warp_before=0.0123, e_warp_after=0.00456, psnr=38.5))
    (production.render / "sc010_c020" / "qc.json").write_text(record.model_dump_json())  # as the bg step writes it
    return production, build_edit(load_edit(production))


def test_screening_cut_is_slate_then_cuts_in_order(built: tuple[Production, dict[str, Path]]) -> None:
    production, out = built
    assert out["mp4"] == production.render / "short.mp4"
    v = streams(out["mp4"])["video"]
    total = SLATE + sum(c[1] for c in CUTS)
    assert (int(v["nb_read_frames"]), v["codec_name"], v["pix_fmt"], v["r_frame_rate"]) == (
        total,
        "h264",
        "yuv420p",
        "24/1",
    )
    assert "audio" not in streams(out["mp4"])

    frames = decode(out["mp4"]).astype(int)
    centre = frames[:, SIZE[1] // 2, SIZE[0] // 2]  # clear of the burn-ins at the edges
    expected = [None] * SLATE + [np.array(rgb) * 255 for _, n, _, rgb in CUTS for _ in range(n)]
    for i, want in enumerate(expected):
        if want is None:
            assert centre[i].max() < 80, f"frame {i} should be slate"
        else:
            assert np.abs(centre[i] - want).max() < 40, f"frame {i}: {centre[i]} is not {want}"
    # The slate is drawn: light text on the dark ground.
    assert frames[0].max() > 150 and np.median(frames[0]) < 60


def test_otio_loads_back_with_clips_and_durations(built: tuple[Production, dict[str, Path]]) -> None:
    production, out = built
    timeline = otio.adapters.read_from_file(str(out["otio"]))
    (track,) = timeline.video_tracks()
    slate, *clips = list(track)
    assert isinstance(slate, otio.schema.Clip) and slate.duration().to_frames() == SLATE  # not a Gap: black
    assert [c.name for c in clips] == [c[0] for c in CUTS]
    position = SLATE
    for clip, (name, frames, start, _) in zip(clips, CUTS):
        assert clip.duration() == otio.opentime.RationalTime(frames, 24)
        assert track.range_of_child(clip).start_time.to_frames() == position
        assert clip.metadata["compositor"] == {"cut": name, "frames": frames, "start": start}
        assert clip.media_reference.target_url == (production.render / name / f"{name}.mp4").as_uri()
        position += frames
    assert track.duration().to_frames() == position


def test_edl_has_one_event_per_cut_with_record_timecodes(built: tuple[Production, dict[str, Path]]) -> None:
    _, out = built
    text = out["edl"].read_text()
    assert text.startswith("TITLE: Tiny short")
    events = re.findall(r"^(\d{3})\s+(\S+)\s+V\s+C\s+(\S+) (\S+) (\S+) (\S+)$", text, re.MULTILINE)
    assert [e[1] for e in events] == ["SLATE", "SC01C010", "SC01C020", "SC02C010"]  # 8-character reels
    # slate 0-5, then 6 + 4 + 5 frames at 24 fps, from 01:00:00:00
    assert [e[2:] for e in events][1:] == [
        ("00:00:00:00", "00:00:00:06", "01:00:00:06", "01:00:00:12"),
        ("00:00:00:00", "00:00:00:04", "01:00:00:12", "01:00:00:16"),
        ("00:00:00:00", "00:00:00:05", "01:00:00:16", "01:00:00:21"),
    ]
    read_back = otio.adapters.read_from_string(text, "cmx_3600", rate=24)
    clips = [c for c in read_back.find_clips()]
    assert [c.duration().to_frames() for c in clips] == [SLATE] + [c[1] for c in CUTS]


def test_review_page_lists_cuts_with_ranges_thumbnails_and_qc(
    built: tuple[Production, dict[str, Path]],
) -> None:
    production, out = built
    page = out["html"].read_text()
    assert 'src="short.mp4"' in page
    for name, frames, start, _ in CUTS:
        thumb = production.render / "short.thumbs" / f"{name}.png"
        assert f'src="short.thumbs/{name}.png"' in page and read_image(thumb).shape == (120, 160, 4)
        assert f"<td>{start}–{start + frames - 1}</td>" in page
    assert "<td>7–12</td>" in page and "<td>17–21</td>" in page  # screening-cut frames, counted from 1
    assert "E_warp 0.0123 → 0.00456<br>PSNR 38.50 dB" in page


@pytest.mark.parametrize("seconds", [0.4, 1.5], ids=["shorter-padded", "longer-cut"])
def test_audio_is_muxed_and_fitted_to_the_picture(tmp_path: Path, seconds: float) -> None:
    production = make_production(tmp_path / "prod", slate=0, audio=seconds)
    out = build_edit(load_edit(production))
    s = streams(out["mp4"])
    frames = sum(c[1] for c in CUTS)
    assert int(s["video"]["nb_read_frames"]) == frames
    assert s["audio"]["codec_name"] == "aac"
    assert abs(float(s["audio"]["duration"]) - frames / 24) < 0.03  # 0.625 s, with silence or cut
    (track,) = otio.adapters.read_from_file(str(out["otio"])).video_tracks()
    assert [type(c).__name__ for c in track] == ["Clip"] * len(CUTS)  # no slate


def test_a_rebuild_is_bit_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the slate's date
    production = make_production(tmp_path / "prod")
    first = {k: p.read_bytes() for k, p in build_edit(load_edit(production)).items() if p.is_file()}
    again = {k: p.read_bytes() for k, p in build_edit(load_edit(production)).items() if p.is_file()}
    assert first.keys() == {"mp4", "otio", "edl", "html"} and first == again


def test_missing_cut_movie_names_it_and_leaves_nothing(tmp_path: Path) -> None:
    production = make_production(tmp_path / "prod", slate=0)
    (production.render / "sc010_c020" / "sc010_c020.mp4").unlink()
    with pytest.raises(MissingInputError) as err:
        build_edit(load_edit(production))
    message = str(err.value)
    assert (
        "\n" not in message and "render/sc010_c020/sc010_c020.mp4" in message and "make sc010_c020" in message
    )
    assert sorted(p.name for p in production.render.iterdir()) == [c[0] for c in CUTS]


def test_a_master_sits_beside_the_screening_movie(tmp_path: Path) -> None:
    production = make_production(tmp_path / "prod", slate=0)
    shot = load_shot(production, "sc020_c010")
    screening = shot.movie().read_bytes()
    master = encode_cut(shot, "master")
    assert master == production.render / "sc020_c010" / "sc020_c010.master.mp4"
    assert streams(master)["video"]["pix_fmt"] == "yuv444p10le"
    assert shot.movie().read_bytes() == screening  # the master never displaces the screening movie
    assert build_edit(load_edit(production))["mp4"].is_file()


def test_a_cut_encoded_differently_is_refused(tmp_path: Path) -> None:
    production = make_production(tmp_path / "prod", slate=0)
    shot = load_shot(production, "sc020_c010")
    shutil.copyfile(encode_cut(shot, "master"), shot.movie())  # a movie put there by hand
    with pytest.raises(EncodeError, match=r"^render/sc020_c010/sc020_c010.mp4: is h264 yuv444p10le 64x48"):
        build_edit(load_edit(production))
    assert not (production.render / "short.mp4").exists()
