"""SMPTE timecode: ``HH:MM:SS:FF`` (non-drop-frame) and ``HH:MM:SS;FF`` (drop-frame, 29.97 and 59.94 fps).

The one home of timecode arithmetic: the EDL and OTIO exports, the burn-ins and the review page all count
record timecode through these functions. Pure: strings and frame counts, no files.

Drop-frame timecode skips the frame numbers 00 and 01 (04 and 05 at 59.94) at the start of every minute except
each tenth minute, so that the timecode keeps to the wall clock at 30000/1001 frames a second.
"""

from __future__ import annotations

import re

DAY_SECONDS = 24 * 3600
_TIMECODE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([:;.])(\d{2})$")


def nominal_rate(fps: float) -> int:
    """Frames per timecode second: 23.976 counts as 24, 29.97 as 30, 59.94 as 60."""
    return max(1, round(fps))


def is_drop_frame_rate(fps: float) -> bool:
    """Whether drop-frame timecode exists at ``fps`` (29.97 or 59.94, within a rounding)."""
    nominal = nominal_rate(fps)
    return nominal in (30, 60) and abs(fps - nominal * 1000 / 1001) < 5e-3


def _dropped_per_minute(fps: float) -> int:
    return 2 * nominal_rate(fps) // 30


def to_frames(timecode: str, fps: float, drop_frame: bool = False) -> int:
    """``"01:00:00:00"`` → the frame count it names at ``fps``. ValueError for a malformed timecode, a field
    out of range or a frame number that drop-frame skips."""
    found = _TIMECODE.match(timecode)
    if not found:
        raise ValueError(f"{timecode!r} is not a timecode (HH:MM:SS:FF)")
    hh, mm, ss, _, ff = found.groups()
    hours, minutes, seconds, frames = int(hh), int(mm), int(ss), int(ff)
    rate = nominal_rate(fps)
    if hours > 23 or minutes > 59 or seconds > 59 or frames >= rate:
        raise ValueError(f"{timecode!r} is not a timecode at {fps:g} fps")
    total = ((hours * 60 + minutes) * 60 + seconds) * rate + frames
    if drop_frame:
        dropped = _dropped_per_minute(fps)
        if seconds == 0 and frames < dropped and minutes % 10 != 0:
            raise ValueError(f"{timecode!r} does not exist in drop-frame timecode (frames 00-{dropped - 1:02d} are skipped)")
        all_minutes = hours * 60 + minutes
        total -= dropped * (all_minutes - all_minutes // 10)
    return total


def to_timecode(frames: int, fps: float, drop_frame: bool = False) -> str:
    """A frame count → ``HH:MM:SS:FF`` (``HH:MM:SS;FF`` in drop-frame) at ``fps``, wrapping at 24 hours."""
    rate = nominal_rate(fps)
    if drop_frame:
        dropped = _dropped_per_minute(fps)
        per_ten_minutes = 10 * 60 * rate - 9 * dropped
        per_minute = 60 * rate - dropped
        frames %= 24 * 6 * per_ten_minutes
        tens, rest = divmod(frames, per_ten_minutes)
        # the first minute of each ten keeps every frame number; the nine after it lose `dropped` each
        if rest >= 60 * rate:
            frames += 9 * dropped * tens + dropped * (1 + (rest - 60 * rate) // per_minute)
        else:
            frames += 9 * dropped * tens
    else:
        frames %= DAY_SECONDS * rate
    seconds, ff = divmod(frames, rate)
    separator = ";" if drop_frame else ":"
    return f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{separator}{ff:02d}"
