"""Editorial exports that conform: the OTIO and the EDL of the screening cut, each read back by OpenTimelineIO
(the EDL through its cmx_3600 adapter) with the same cut points and offsets, from 01:00:00:00."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest

from compositor.core.xdts import IDENTIFIER, Cue
from compositor.errors import SpecError
from compositor.spec import Production, load_edit
from compositor.steps.edit import build_edit
from compositor.steps.edit.editorial import ascii_text, build_timeline, edl_text, reel_names
from tests.test_cut import CUTS, SLATE, make_production

START = 86400  # 01:00:00:00 at 24 fps
TOTAL = SLATE + sum(c[1] for c in CUTS)
DIALOGUE = [Cue("SERIF", 1, 3, "Where are you going?"), Cue("SERIF", 4, 2, "ねこ")]


def xdts_with_dialogue(frames: int) -> bytes:
    track = [{"frame": c.first, "data": [{"id": 0, "values": [c.text]}]} for c in DIALOGUE]
    table = {
        "duration": frames,
        "name": "sheet",
        "timeTableHeaders": [{"fieldId": 0, "names": []}, {"fieldId": 3, "names": ["SERIF"]}],
        "fields": [{"fieldId": 3, "tracks": [{"trackNo": 0, "frames": track}]}],
    }
    return (IDENTIFIER + "\n" + json.dumps({"timeTables": [table], "version": 5})).encode()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Production, dict[str, Path]]:
    production = make_production(tmp_path_factory.mktemp("editorial") / "prod", audio=1.5)
    first = production.shots / CUTS[0][0]
    (first / "sheet.xdts").write_bytes(xdts_with_dialogue(CUTS[0][1]))
    (first / "shot.toml").write_text('timesheet = "sheet.xdts"\n' + (first / "shot.toml").read_text())
    notes = [{"frame": 8, "text": "Too dark here"}, {"frame": 2, "text": "Slate: fix the date"}]
    (production.render / "short.notes.json").write_text(json.dumps(notes))
    return production, build_edit(load_edit(production))


def path_of(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file" and Path(unquote(parsed.path)).is_absolute()
    return Path(unquote(parsed.path))


def test_otio_has_the_slate_as_a_clip_media_as_file_urls_and_an_audio_track(built) -> None:
    production, out = built
    timeline = otio.adapters.read_from_file(str(out["otio"]))
    assert timeline.global_start_time == otio.opentime.RationalTime(START, 24)
    (video,) = timeline.video_tracks()
    slate, *clips = list(video)
    assert isinstance(slate, otio.schema.Clip) and slate.duration().to_frames() == SLATE
    assert path_of(slate.media_reference.target_url) == production.render / "short.mp4"  # its first frames
    for clip, (name, frames, start, _) in zip(clips, CUTS, strict=True):
        assert path_of(clip.media_reference.target_url) == production.render / name / f"{name}.mp4"
        assert clip.metadata["compositor"] == {"cut": name, "frames": frames, "start": start}
    (audio,) = timeline.audio_tracks()
    (sound,) = list(audio)
    assert path_of(sound.media_reference.target_url) == production.shots / "sound" / "temp_mix.wav"
    assert sound.source_range == otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(TOTAL, 24))
    assert sound.media_reference.available_range.duration.to_frames() == 36  # 1.5 s: longer than the picture


def test_otio_markers_carry_the_dialogue_and_the_notes(built) -> None:
    _, out = built
    (video,) = otio.adapters.read_from_file(str(out["otio"])).video_tracks()
    slate, first, second, _ = list(video)
    said = [
        (m.name, m.marked_range.start_time.to_frames(), m.marked_range.duration.to_frames())
        for m in first.markers
        if m.metadata["compositor"]["kind"] == "dialogue"
    ]
    assert said == [(c.text, c.first, c.frames) for c in DIALOGUE]
    assert first.markers[0].metadata["compositor"] == {"kind": "dialogue", "track": "SERIF", "sheet_frame": 2}
    # note frames count from 1 in the screening cut: 2 is the slate's second frame; after 6 slate frames,
    # 8 is sc010_c010's second
    notes = [(clip.name, m.name, m.marked_range.start_time.to_frames()) for clip in (slate, first) for m in clip.markers]
    assert [n for n in notes if "dark" in n[1] or "Slate" in n[1]] == [
        ("slate", "Slate: fix the date", 1),
        ("sc010_c010", "Too dark here", 1),
    ]
    assert not second.markers


def test_edl_header_reels_and_events(built) -> None:
    _, out = built
    text = out["edl"].read_text(encoding="ascii")  # 7-bit
    lines = text.splitlines()
    assert lines[:2] == ["TITLE: Tiny short", "FCM: NON-DROP FRAME"]
    events = re.findall(r"^(\d{3})  (\S+)\s+(V|A|AA)\s+C\s+(\S+) (\S+) (\S+) (\S+)$", text, re.MULTILINE)
    assert [(e[1], e[2]) for e in events] == [("SLATE", "V"), ("SC01C010", "V"), ("SC01C020", "V"), ("SC02C010", "V"), ("AUDIO", "A")]
    assert [e[3:] for e in events] == [
        ("00:00:00:00", "00:00:00:06", "01:00:00:00", "01:00:00:06"),
        ("00:00:00:00", "00:00:00:06", "01:00:00:06", "01:00:00:12"),
        ("00:00:00:00", "00:00:00:04", "01:00:00:12", "01:00:00:16"),
        ("00:00:00:00", "00:00:00:05", "01:00:00:16", "01:00:00:21"),
        ("00:00:00:00", "00:00:00:21", "01:00:00:00", "01:00:00:21"),
    ]
    # the Japanese line folds to nothing ASCII: its marker still says what it is
    assert "* LOC: 00:00:00:01 GREEN   WHERE ARE YOU GOING?" in lines and "* LOC: 00:00:00:04 GREEN   DIALOGUE" in lines


def placements(track: otio.schema.Track, offset: int) -> list[tuple[str, int, int, int]]:
    """(name, record frame, source in, frames) of each clip of a track."""
    return [
        (
            clip.name,
            offset + track.range_of_child(clip).start_time.to_frames(),
            clip.source_range.start_time.to_frames(),
            clip.source_range.duration.to_frames(),
        )
        for clip in track.find_clips()
    ]


def test_edl_reads_back_through_opentimelineio_with_the_same_cut_points_as_the_otio(built) -> None:
    _, out = built
    otio_timeline = otio.adapters.read_from_file(str(out["otio"]))
    edl = otio.adapters.read_from_string(out["edl"].read_text(), "cmx_3600", rate=24)
    start = otio_timeline.global_start_time.to_frames()
    for kind in ("video_tracks", "audio_tracks"):
        (mine,) = getattr(otio_timeline, kind)()
        (theirs,) = getattr(edl, kind)()
        # the reader starts a track at its first record timecode: the slate's offset is kept, not lost
        offset = -theirs.source_range.start_time.to_frames() if theirs.source_range else 0
        assert offset == START
        assert placements(theirs, offset) == placements(mine, start)
        for a, b in zip(mine.find_clips(), theirs.find_clips()):
            assert a.media_reference.target_url == b.media_reference.target_url
            assert b.metadata["cmx_3600"]["reel"] == a.metadata["cmx_3600"]["reel"]
            assert [m.marked_range.start_time.to_frames() for m in b.markers] == [
                m.marked_range.start_time.to_frames() for m in a.markers
            ]


def test_reel_names_are_eight_ascii_characters_and_never_two_alike() -> None:
    cuts = ["sc010_c010", "sc010_c020", "sc100_c010", "sc101_c010", "sc1000_c0010", "slate", "日本_c1", "a", "A"]
    reels = reel_names(cuts)
    assert all(re.fullmatch(r"[A-Z0-9]{1,8}", r) for r in reels.values())
    assert len(set(reels.values())) == len(cuts) and "SLATE" not in reels.values()
    assert reels["sc010_c020"] == "SC01C020"


def test_titles_fold_to_ascii() -> None:
    assert ascii_text("The Cat — a “walk”, café\nday two") == 'The Cat - a "walk", cafe day two'
    assert ascii_text("猫の散歩", fallback="cat_and_walk") == "cat_and_walk"


def edit_at(root: Path, extra: str, fps: float = 24) -> Production:
    (root / "shots").mkdir(parents=True)
    (root / "templates" / "encode").mkdir(parents=True)
    (root / "templates" / "encode" / "screening.toml").write_text("")
    (root / "shots" / "c1").mkdir()
    (root / "shots" / "c1" / "shot.toml").write_text("[shot]\nframes = 1\n")
    (root / "shots" / "edit.toml").write_text(f'[edit]\nname = "e"\nfps = {fps}\nslate = 1.0\ncuts = ["c1"]\n{extra}')
    return Production(root)


def test_drop_frame_at_29_97_and_a_start_timecode_of_ones_own(tmp_path: Path) -> None:
    edit = load_edit(edit_at(tmp_path, 'drop_frame = true\nstart_timecode = "00:59:59;28"\n', fps=29.97))
    timeline = build_timeline(edit, [])
    text = edl_text(edit, timeline)
    assert text.splitlines()[1] == "FCM: DROP FRAME"
    # 30 slate frames from 00:59:59;28 cross into minute 60, a tenth minute, where no frame numbers are dropped
    assert "00:00:00;00 00:00:01;00 00:59:59;28 01:00:00;28" in text
    back = otio.adapters.read_from_string(text, "cmx_3600", rate=30000 / 1001)
    (track,) = back.video_tracks()
    assert [c.duration().to_frames() for c in track.find_clips()] == [30]


@pytest.mark.parametrize(
    ("extra", "fps", "message"),
    [
        ("drop_frame = true\n", 24, "drop-frame timecode is for 29.97 or 59.94 fps"),
        ('start_timecode = "01:00:00:24"\n', 24, "is not a timecode at 24 fps"),
        ('start_timecode = "1:00:00:00"\n', 24, "edit.start_timecode"),
    ],
)
def test_timecode_keys_are_checked(tmp_path: Path, extra: str, fps: float, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        load_edit(edit_at(tmp_path, extra, fps))


def test_the_review_page_lists_the_dialogue(built) -> None:
    _, out = built
    page = out["html"].read_text()
    # record timecodes as the EDL counts them; the line as written, escaped
    assert "<td>01:00:00:06 – 01:00:00:12</td>" in page
    assert '<tr data-start="7"><td>sc010_c010</td><td>2–4</td><td>01:00:00:07</td><td>SERIF</td><td>Where are you going?</td></tr>' in page
    assert "<td>ねこ</td>" in page


def test_stereo_audio_is_an_aa_event_on_two_tracks(tmp_path: Path) -> None:
    import wave  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    from compositor.steps.edit.editorial import audio_facts  # noqa: PLC0415
    from compositor.steps.encode import frame_rate  # noqa: PLC0415

    production = edit_at(tmp_path, 'audio = "mix.wav"\n')
    with wave.open(str(production.shots / "mix.wav"), "wb") as w:  # 0.5 s of stereo silence: 12 frames
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(np.zeros(48000, "<i2").tobytes())
    edit = load_edit(production)
    facts = audio_facts(edit.audio, frame_rate(24))
    assert (facts.frames, facts.channels) == (12, 2)
    text = edl_text(edit, build_timeline(edit, [], audio=facts))
    assert "002  AUDIO    AA    C        00:00:00:00 00:00:00:12 01:00:00:00 01:00:00:12" in text.splitlines()
    back = otio.adapters.read_from_string(text, "cmx_3600", rate=24)
    assert [t.name for t in back.audio_tracks()] == ["A1", "A2"]
    assert all(t.find_clips()[0].duration().to_frames() == 12 for t in back.audio_tracks())
