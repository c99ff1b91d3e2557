"""Editorial exports of the screening cut: an OpenTimelineIO timeline and a CMX 3600 EDL, cut for cut the same.

Both count record timecode from ``edit.start_timecode`` (default 01:00:00:00) at the slate's first frame, and
source timecode from 00:00:00:00 at each movie's first frame.

- ``<edit>.otio``: a video track, ``V1``: the slate as a Clip (its media: the screening movie, whose first
  frames it is), then a Clip per cut whose media is the cut's movie, each an absolute ``file://`` URL, with
  ``metadata["compositor"] = {cut, frames, start}``; an audio track, ``A1``, with ``edit.audio`` from the first
  frame, as long as the picture or the audio, whichever is shorter. Markers: each dialogue line of a cut's
  XDTS timesheet on its clip, and the review notes (``<edit>.notes.json``) where they fall.
- ``<edit>.edl``: ``TITLE:`` (the edit's title folded to ASCII: an EDL is 7-bit text read line by line),
  ``FCM: NON-DROP FRAME`` (or ``DROP FRAME``), one event a clip with an 8-character reel (the CMX limit;
  ``SLATE``, then the cut names shortened, never two alike), the full clip name and file URL as ``* FROM CLIP
  NAME:`` / ``* FROM FILE:`` comments, markers as ``* LOC:`` lines at source timecode (as OpenTimelineIO's
  reader and writer place them), then the audio event (``A`` mono, ``AA`` stereo). OpenTimelineIO's
  ``cmx_3600`` adapter reads it back to the same cut points and offsets (tests/test_editorial.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from compositor.core.timecode import to_frames, to_timecode
from compositor.errors import CorruptInputError
from compositor.spec import Edit
from compositor.steps.edit.notes import read_notes as notes_in
from compositor.steps.edit.plan import CutEntry
from compositor.steps.edit.slate import slate_frames
from compositor.steps.encode import ffmpeg_exe, frame_rate

SLATE_REEL = "SLATE"
AUDIO_REEL = "AUDIO"
RESERVED_REELS = {"BL", "BLACK", "BARS", "AX", SLATE_REEL, AUDIO_REEL}
"""Reels the CMX readers give a meaning (black, bars, auxiliary) or that this export uses itself."""


@dataclass(frozen=True)
class Note:
    """A review note: ``text`` at frame ``frame`` of the screening cut (0-based; the slate's first is 0)."""

    frame: int
    text: str


@dataclass(frozen=True)
class AudioFacts:
    """What the EDL and OTIO say of the edit's audio: its length in frames of the edit and its channels."""

    frames: int
    channels: int


def ascii_text(text: str, fallback: str = "") -> str:
    """``text`` on one line in printable ASCII (accents dropped, dashes and quotes made plain), or ``fallback``
    when nothing is left (a Japanese title, say)."""
    plain = text.translate(str.maketrans({"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "..."}))
    folded = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode("ascii")
    folded = " ".join("".join(ch if ch.isprintable() else " " for ch in folded).split())
    return folded or fallback


def reel_names(cuts: list[str]) -> dict[str, str]:
    """An 8-character reel per cut, ASCII letters and digits, never two alike: ``sc010_c020`` → ``SC01C020``
    (the start and the end of the name, where scene and cut numbers are); a clash takes a number at its end."""
    used = set(RESERVED_REELS)
    out: dict[str, str] = {}
    for cut in cuts:
        base = re.sub(r"[^A-Z0-9]", "", cut.upper()) or "CUT"
        reel = base if len(base) <= 8 else base[:4] + base[-4:]
        n = 1
        while reel in used:
            suffix = str(n)
            reel = base[: 8 - len(suffix)] + suffix
            n += 1
        used.add(reel)
        out[cut] = reel
    return out


def file_url(path: Path) -> str:
    """An absolute ``file://`` URL, spelled lexically (``render/`` linked elsewhere keeps its name)."""
    return Path(os.path.abspath(path)).as_uri()


def record_start(edit: Edit) -> int:
    """``edit.start_timecode`` in frames."""
    return to_frames(edit.edit.start_timecode, edit.edit.fps, edit.edit.drop_frame)


def _rate(edit: Edit) -> float:
    return float(frame_rate(edit.edit.fps))


def timecode(frame: int, edit: Edit) -> str:
    """Record frame ``frame`` (counted from 00:00:00:00) as the edit's timecode (drop-frame where it says)."""
    return to_timecode(frame, edit.edit.fps, edit.edit.drop_frame)


def audio_facts(path: Path, fps: Fraction) -> AudioFacts:
    """The length (whole frames at ``fps``, rounded) and channel count of an audio file, from ``ffmpeg -i``."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    duration = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", done.stderr)
    stream = re.search(r"Audio: [^\n]*?Hz, ([^,\n]+)", done.stderr)
    if duration is None or stream is None:
        raise CorruptInputError(f"{path}: no audio that ffmpeg can read")
    seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))
    layout = stream.group(1).strip()
    channels = 1 if layout == "mono" else int(m.group(1)) if (m := re.match(r"(\d+) channels", layout)) else 2
    return AudioFacts(round(seconds * fps), channels)


def edit_audio(edit: Edit) -> AudioFacts | None:
    """`audio_facts` of ``edit.audio`` (None without one); a file ffmpeg cannot read as audio is a one-line
    `CorruptInputError` naming the key: checked by ``compositor validate`` and before the screening cut is
    joined (it failed there as an ffmpeg error naming the movie)."""
    if edit.audio is None:
        return None
    try:
        return audio_facts(edit.audio, frame_rate(edit.edit.fps))
    except CorruptInputError:
        raise CorruptInputError(
            f"{edit.display}: edit.audio: {edit.production.rel(edit.audio)}: no audio that ffmpeg can read"
        ) from None


def read_notes(path: Path, display: str | None = None) -> list[Note]:
    """The review notes beside the page (``steps.edit.notes``: frames counted from 1 in the screening cut, as
    the page shows them), as markers want them; a file that is not a notes file is a `CorruptInputError`
    naming it as ``display``."""
    return [Note(n["frame"] - 1, n["text"].strip()) for n in notes_in(path, strict=True, display=display)]


def _range(start: int, frames: int, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(frames, rate))


def _marker(name: str, at: int, frames: int, rate: float, colour: str, meta: dict) -> otio.schema.Marker:
    marker = otio.schema.Marker(name=name, marked_range=_range(at, frames, rate), color=colour)
    marker.metadata["compositor"] = meta
    return marker


def build_timeline(
    edit: Edit, entries: list[CutEntry], notes: list[Note] | None = None, audio: AudioFacts | None = None
) -> otio.schema.Timeline:
    """The screening cut as a timeline (see the module's docstring); ``audio`` describes ``edit.audio``."""
    rate = _rate(edit)
    slate = slate_frames(edit)
    total = slate + sum(e.frames for e in entries)
    reels = reel_names([e.name for e in entries])
    timeline = otio.schema.Timeline(name=edit.edit.title or edit.edit.name)
    timeline.global_start_time = otio.opentime.RationalTime(record_start(edit), rate)
    timeline.metadata["compositor"] = {
        "edit": edit.edit.name,
        "title": edit.edit.title,
        "fps": edit.edit.fps,
        "slate_frames": slate,
        "movie": edit.paths.movie.name,
        "start_timecode": edit.edit.start_timecode,
    }
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    # clip, its first record frame (0-based in the screening cut)
    placed: list[tuple[otio.schema.Clip, int]] = []
    if slate:
        media = otio.schema.ExternalReference(target_url=file_url(edit.paths.movie), available_range=_range(0, total, rate))
        clip = otio.schema.Clip(name="slate", media_reference=media, source_range=_range(0, slate, rate))
        clip.metadata["compositor"] = {"slate": True, "frames": slate}
        clip.metadata["cmx_3600"] = {"reel": SLATE_REEL}
        placed.append((clip, 0))
    for entry in entries:
        media = otio.schema.ExternalReference(target_url=file_url(entry.movie), available_range=_range(0, entry.frames, rate))
        clip = otio.schema.Clip(name=entry.name, media_reference=media, source_range=_range(0, entry.frames, rate))
        clip.metadata["compositor"] = {"cut": entry.name, "frames": entry.frames, "start": entry.shot.start}
        clip.metadata["cmx_3600"] = {"reel": reels[entry.name]}
        sheet = entry.shot.timesheet
        for cue in sheet.dialogue if sheet is not None else ():
            meta = {"kind": "dialogue", "track": cue.track, "sheet_frame": entry.shot.start + cue.first}
            clip.markers.append(_marker(cue.text, cue.first, cue.frames, rate, otio.schema.MarkerColor.GREEN, meta))
        placed.append((clip, entry.record_start))
    for note in notes or ():
        for clip, first in reversed(placed):
            if first <= note.frame < first + clip.source_range.duration.to_frames():
                meta = {"kind": "note", "frame": note.frame + 1}
                clip.markers.append(_marker(note.text, note.frame - first, 0, rate, otio.schema.MarkerColor.YELLOW, meta))
                break
    for clip, _ in placed:
        video.append(clip)
    timeline.tracks.append(video)
    if edit.audio is not None and audio is not None and audio.frames > 0:
        sound = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
        media = otio.schema.ExternalReference(target_url=file_url(edit.audio), available_range=_range(0, audio.frames, rate))
        clip = otio.schema.Clip(name=edit.audio.name, media_reference=media, source_range=_range(0, min(audio.frames, total), rate))
        clip.metadata["compositor"] = {"audio": True, "channels": audio.channels}
        clip.metadata["cmx_3600"] = {"reel": AUDIO_REEL}
        sound.append(clip)
        timeline.tracks.append(sound)
    return timeline


def edl_text(edit: Edit, timeline: otio.schema.Timeline) -> str:
    """The timeline as CMX 3600 (see the module's docstring)."""
    first = record_start(edit)
    title = ascii_text(timeline.name, fallback=edit.edit.name)
    lines = [f"TITLE: {title}", f"FCM: {'DROP FRAME' if edit.edit.drop_frame else 'NON-DROP FRAME'}", ""]
    number = 0
    for track in timeline.tracks:
        position = 0
        for clip in track:
            frames = int(clip.source_range.duration.to_frames())
            source = int(clip.source_range.start_time.to_frames())
            if isinstance(clip, otio.schema.Clip):
                number += 1
                channels = clip.metadata["compositor"].get("channels", 0)
                kind = "V" if track.kind == otio.schema.TrackKind.Video else ("A" if channels == 1 else "AA")
                reel = clip.metadata["cmx_3600"]["reel"]
                times = [source, source + frames, first + position, first + position + frames]
                lines.append(f"{number:03d}  {reel:8} {kind:5} C        " + " ".join(timecode(t, edit) for t in times))
                lines.append(f"* FROM CLIP NAME:  {ascii_text(clip.name, fallback=reel)}")
                lines.append(f"* FROM FILE: {clip.media_reference.target_url}")
                for marker in clip.markers:
                    at = timecode(int(marker.marked_range.start_time.to_frames()), edit)
                    text = ascii_text(marker.name, fallback=marker.metadata["compositor"]["kind"]).upper()
                    lines.append(f"* LOC: {at} {marker.color:7} {text}")
            position += frames
    return "\n".join(lines) + "\n"
