"""XDTS timesheets: the exchange format of CLIP STUDIO PAINT, OpenToonz, TVPaint and others.

A file is the line ``exchangeDigitalTimeSheet Save Data`` followed by JSON::

    {"timeTables": [{"duration": 24, "name": "...",
                     "timeTableHeaders": [{"fieldId": 0, "names": ["A", "B"]}, ...],
                     "fields": [{"fieldId": 0, "tracks": [{"trackNo": 0, "frames": [
                         {"frame": 0, "data": [{"id": 0, "values": ["1"]}]}, ...]}]}]}],
     "header": {"cut": "10", "scene": "10"}, "version": 5}

``fieldId`` 0 holds the cels, 3 the dialogue, 5 the camerawork; ``names`` of the header with the same
``fieldId`` name its tracks by ``trackNo``. Frames count from 0 and are listed only where a track changes;
between two listed frames the earlier value holds. A value is a drawing (a number with an optional letter:
``3``, ``12b``) or a symbol: ``SYMBOL_NULL_CELL`` an empty frame, ``SYMBOL_HYPHEN``, ``SYMBOL_TICK_1`` and
``SYMBOL_TICK_2`` (in-between marks) continue the drawing before them. Only the first time table is read
(OpenToonz reads only the first as well).

How files in the wild look follows OpenToonz's ``toonz/sources/toonz/xdtsio.cpp``: its writer ends a track
with a ``SYMBOL_NULL_CELL`` at the frame after its last drawing (which may be ``duration``), CLIP STUDIO PAINT
may list a frame before 0 (its value is what the sheet starts with), and OpenToonz's reader needs a header and
a field for the cels (``fieldId`` 0) and a name for every track number. `write_xdts` writes what that reader
takes; `parse_xdts` reads it back to the same timings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compositor.core.timesheet import Exposure, parse_timing
from compositor.errors import CompositorError, TimesheetError
from compositor.spec.models import MAX_FRAMES

if TYPE_CHECKING:  # the spec imports this module: no import of it at run time
    from compositor.spec import Shot

IDENTIFIER = "exchangeDigitalTimeSheet Save Data"
VERSION = 5
"""The XDTS version OpenToonz and CLIP STUDIO PAINT write."""
MAX_SHEET_CELLS = 10_000_000
"""The most cel-track frames a sheet may have (tracks times duration): each cel track is expanded to a label a
frame (8 bytes each), so this bounds what a sheet takes in memory (80 MB), under any limit on the duration alone:
100 tracks of the longest cut, or 10 000 of a thousand frames."""
CELL, DIALOGUE, CAMERAWORK = 0, 3, 5
FIELD_NAMES = {CELL: "cel", DIALOGUE: "dialogue", CAMERAWORK: "camerawork"}

NULL_CELL = "SYMBOL_NULL_CELL"
HYPHEN = "SYMBOL_HYPHEN"
TICK_1 = "SYMBOL_TICK_1"
TICK_2 = "SYMBOL_TICK_2"
CONTINUE = (HYPHEN, TICK_1, TICK_2)
"""Symbols that keep the drawing before them (at the sheet's start, where there is none: an empty frame)."""

DRAWING = re.compile(r"^(\d{1,12})([A-Za-z]?)$")
"""A drawing on a sheet: a number with an optional letter (``3``, ``3a``)."""


class XdtsError(TimesheetError):
    """An XDTS file that cannot be read, or does not fit the cut it times."""


@dataclass(frozen=True)
class Cue:
    """A stretch of a dialogue or camerawork track: ``text`` from sheet frame ``first`` (counted from 0) for
    ``frames`` frames."""

    track: str
    first: int
    frames: int
    text: str


@dataclass(frozen=True)
class Timesheet:
    """The first time table of an XDTS file, expanded to one entry a frame."""

    display: str
    """The file as errors name it."""
    duration: int
    name: str
    tracks: tuple[tuple[str, tuple[str | None, ...]], ...]
    """The cel tracks in ``trackNo`` order: (name, the drawing label on each frame or None for empty)."""
    dialogue: tuple[Cue, ...] = ()
    camerawork: tuple[Cue, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """What was read but is not used (more time tables, fields of other kinds), one line each."""

    def track_names(self) -> list[str]:
        return [name for name, _ in self.tracks]

    def labels(self, track: str) -> tuple[str | None, ...]:
        """The labels of the cel track named ``track`` (names compared without surrounding spaces, as
        OpenToonz does); `XdtsError` if there is none, or two."""
        found = [labels for name, labels in self.tracks if name.strip() == track.strip()]
        if not found:
            have = ", ".join(repr(n) for n in self.track_names()) or "none"
            raise XdtsError(f"{self.display}: track {track!r}: no cel track of that name (have: {have})")
        if len(found) > 1:
            raise XdtsError(f"{self.display}: track {track!r}: {len(found)} cel tracks have that name")
        return found[0]

    def exposure(self, track: str) -> Exposure:
        """The track as a layer's timing: the drawing number on each frame, None where empty."""
        out: Exposure = []
        for frame, label in enumerate(self.labels(track)):
            if label is None:
                out.append(None)
                continue
            number, letter = DRAWING.match(label).groups()  # type: ignore[union-attr]  # checked on reading
            if letter:
                raise XdtsError(
                    f"{self.display}: track {track!r}, frame {frame}: drawing {label!r} has a letter, but cels are "
                    f"found by the number in their file name, so {label!r} cannot be told from {number} "
                    "(renumber the drawing on the sheet)"
                )
            out.append(int(number))
        return out


# ------------------------------------------------------------------------------------------------------------
# Reading


def _int(value: Any) -> int | None:
    """A JSON integer (``3`` or ``3.0``; not ``true``, not ``3.5``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise XdtsError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise XdtsError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _frames(track: dict, where: str) -> list[tuple[int, list[str]]]:
    """A track's listed frames, sorted: (frame, values) with the values of its first data item."""
    listed: dict[int, list[str]] = {}
    for i, item in enumerate(_list(track.get("frames", []), f"{where}: frames")):
        item = _object(item, f"{where}: frames[{i}]")
        frame = _int(item.get("frame"))
        if frame is None:
            raise XdtsError(f"{where}: frames[{i}]: 'frame' must be a whole number, got {item.get('frame')!r}")
        data = _list(item.get("data", []), f"{where}, frame {frame}: data")
        values: list[str] = []
        if data:
            first = _object(data[0], f"{where}, frame {frame}: data[0]")
            values = _list(first.get("values", []), f"{where}, frame {frame}: values")
            for value in values:
                if not isinstance(value, str):
                    raise XdtsError(f"{where}, frame {frame}: a value must be text, got {value!r}")
        if frame in listed:
            raise XdtsError(f"{where}, frame {frame}: the frame is listed twice")
        listed[frame] = values
    return sorted(listed.items())


def _expand_cels(
    frames: list[tuple[int, list[str]]], duration: int, where: str, notes: list[str] | None = None
) -> tuple[str | None, ...]:
    """One label a frame from a track's listed changes (see the module's docstring for the symbols); a drawing
    listed past the sheet's end is noted in ``notes`` (the sheet is cut to its duration, never silently)."""
    out: list[str | None] = []
    current: str | None = None
    for frame, values in frames:
        value = values[0].strip() if values else NULL_CELL
        if value not in (NULL_CELL, *CONTINUE) and not DRAWING.match(value):
            raise XdtsError(
                f"{where}, frame {frame}: {value!r} is not a drawing (a number with an optional letter, like 3 or "
                f"3a) or one of {NULL_CELL}, {HYPHEN}, {TICK_1}, {TICK_2}"
            )
        if frame >= duration:  # past the sheet's end: OpenToonz's own end marker sits at frame `duration`
            if notes is not None and value not in (NULL_CELL, *CONTINUE):
                notes.append(f"{where}, frame {frame}: drawing {value} is past the sheet's {duration} frames: not shown")
            continue
        if frame >= 0:
            out.extend([current] * (frame - len(out)))
        if value == NULL_CELL:
            current = None
        elif value not in CONTINUE:
            current = value
        if frame >= 0:
            out.append(current)
    out.extend([current] * (duration - len(out)))
    return tuple(out)


def _cues(frames: list[tuple[int, list[str]]], duration: int, name: str) -> list[Cue]:
    """The stretches of a dialogue or camerawork track: text from where it is listed until an empty frame, the
    next text or the sheet's end; the continuation symbols extend it."""
    cues: list[Cue] = []
    start: int | None = None
    text = ""

    def close(at: int) -> None:
        if start is not None and min(at, duration) > max(start, 0):
            cues.append(Cue(name, max(start, 0), min(at, duration) - max(start, 0), text))

    for frame, values in frames:
        value = " ".join(v.strip() for v in values).strip()
        if value in CONTINUE:
            continue
        close(frame)
        start, text = (None, "") if value in ("", NULL_CELL) else (frame, value)
    close(duration)
    return cues


def parse_xdts(data: bytes, display: str) -> Timesheet:
    """Read an XDTS file's bytes (``display`` names it in errors); every problem is a one-line `XdtsError`
    naming the file, and the track and frame where there is one."""
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not text.startswith(IDENTIFIER):
        raise XdtsError(f"{display}: not an XDTS timesheet (its first line is not {IDENTIFIER!r})")
    try:
        document = json.loads(text[len(IDENTIFIER) :])
    except json.JSONDecodeError as e:
        raise XdtsError(f"{display}: not valid XDTS JSON: {e.msg} (line {e.lineno + 1}, column {e.colno})") from None
    except ValueError:  # Python's int() refuses a number of thousands of digits
        raise XdtsError(f"{display}: not valid XDTS JSON: a number too long to read (over 4300 digits)") from None
    except RecursionError:
        raise XdtsError(f"{display}: not valid XDTS JSON: arrays or objects nested too deep to read") from None
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:  # "\ud800" alone: JSON reads it, but it is no character, and no file can hold it
        bad = e.object[e.start : e.end].encode("utf-8", "backslashreplace").decode("ascii")
        raise XdtsError(f"{display}: not valid XDTS JSON: {bad} is half of a character (a lone surrogate)") from None
    document = _object(document, display)
    tables = _list(document.get("timeTables"), f"{display}: timeTables") if "timeTables" in document else []
    if not tables:
        raise XdtsError(f"{display}: timeTables: the sheet has no time table")
    notes: list[str] = []
    if len(tables) > 1:
        notes.append(f"{display}: timeTables: {len(tables)} time tables; only the first is read")
    table = _object(tables[0], f"{display}: timeTables[0]")
    duration = _int(table.get("duration"))
    if duration is None or duration < 1:
        raise XdtsError(f"{display}: timeTables[0].duration: expected a whole number of frames, got {table.get('duration')!r}")
    if duration > MAX_FRAMES:  # each track is expanded to a label a frame: a sheet claiming 10^12 ran out of memory
        raise XdtsError(f"{display}: timeTables[0].duration: {duration} frames, more than a cut may have ({MAX_FRAMES})")

    names: dict[int, list[str]] = {}
    for i, header in enumerate(_list(table.get("timeTableHeaders", []), f"{display}: timeTableHeaders")):
        header = _object(header, f"{display}: timeTableHeaders[{i}]")
        field_id = _int(header.get("fieldId"))
        labels = _list(header.get("names", []), f"{display}: timeTableHeaders[{i}].names")
        if field_id is None or not all(isinstance(n, str) for n in labels):
            raise XdtsError(f"{display}: timeTableHeaders[{i}]: expected a whole-number fieldId and names as text")
        names[field_id] = labels

    tracks: list[tuple[int, str, tuple[str | None, ...]]] = []
    dialogue: list[Cue] = []
    camerawork: list[Cue] = []
    for i, entry in enumerate(_list(table.get("fields", []), f"{display}: fields")):
        entry = _object(entry, f"{display}: fields[{i}]")
        field_id = _int(entry.get("fieldId"))
        kind = FIELD_NAMES.get(field_id, f"fieldId {field_id!r}")  # type: ignore[arg-type]
        if field_id not in FIELD_NAMES:
            notes.append(f"{display}: fields[{i}]: a field of fieldId {entry.get('fieldId')!r} is not read")
            continue
        for j, track in enumerate(_list(entry.get("tracks", []), f"{display}: fields[{i}].tracks")):
            track = _object(track, f"{display}: fields[{i}].tracks[{j}]")
            number = _int(track.get("trackNo"))
            labels = names.get(field_id)  # type: ignore[arg-type]
            if number is None or number < 0:
                raise XdtsError(f"{display}: {kind} track {j}: 'trackNo' must be a whole number from 0, got {track.get('trackNo')!r}")
            if labels is None or number >= len(labels):
                raise XdtsError(
                    f"{display}: {kind} track {number}: the track has no name (timeTableHeaders has "
                    f"{'no entry' if labels is None else f'{len(labels)} names'} for fieldId {field_id})"
                )
            name = labels[number]
            where = f"{display}: track {name!r}"
            listed = _frames(track, where)
            if field_id == CELL:
                if (len(tracks) + 1) * duration > MAX_SHEET_CELLS:  # before the track is expanded
                    raise XdtsError(
                        f"{display}: timeTables[0]: over {MAX_SHEET_CELLS // duration} cel tracks of {duration} "
                        f"frames, more cells than a sheet may have ({MAX_SHEET_CELLS})"
                    )
                tracks.append((number, name, _expand_cels(listed, duration, where, notes)))
            else:
                (dialogue if field_id == DIALOGUE else camerawork).extend(_cues(listed, duration, name))
    numbers = [n for n, _, _ in tracks]
    if len(set(numbers)) != len(numbers):
        twice = next(n for n in numbers if numbers.count(n) > 1)
        raise XdtsError(f"{display}: cel track {twice}: listed twice")
    return Timesheet(
        display=display,
        duration=duration,
        name=str(table.get("name", "")),
        tracks=tuple((name, labels) for _, name, labels in sorted(tracks)),
        dialogue=tuple(sorted(dialogue, key=lambda c: (c.first, c.track))),
        camerawork=tuple(sorted(camerawork, key=lambda c: (c.first, c.track))),
        notes=tuple(notes),
    )


def read_xdts(path: Path, display: str) -> Timesheet:
    """`parse_xdts` of the file at ``path``."""
    from compositor.core.io import read_error  # noqa: PLC0415 (io imports OpenCV; a sheet does not need it)

    try:
        data = path.read_bytes()
    except OSError as e:
        raise read_error(path, e) from None
    return parse_xdts(data, display)


def check_fits(sheet: Timesheet, frames: int) -> None:
    """A sheet times a cut only if it is as long."""
    if sheet.duration != frames:
        raise XdtsError(f"{sheet.display}: timeTables[0].duration: the sheet is {sheet.duration} frames, but the cut is {frames}")


def camerawork_lines(sheet: Timesheet, first_frame: int = 0) -> list[str]:
    """One line per camerawork instruction (compositor takes camera moves from ``[camera]``, not from the sheet),
    with frames numbered from ``first_frame`` (the cut's ``start``)."""
    return [
        f"{sheet.display}: camerawork {cue.track!r}, frames {first_frame + cue.first}-"
        f"{first_frame + cue.first + cue.frames - 1}: {cue.text!r} is not applied (key camera moves in [camera])"
        for cue in sheet.camerawork
    ]


# ------------------------------------------------------------------------------------------------------------
# Writing


def _entry(frame: int, value: str) -> dict[str, Any]:
    return {"data": [{"id": 0, "values": [value]}], "frame": frame}


def _cel_frames(exposure: Exposure) -> list[dict[str, Any]]:
    """A track's changes; like OpenToonz, a track whose last drawing runs to the end is closed by an empty cell
    at the frame after it."""
    out = []
    for i, drawing in enumerate(exposure):
        if i == 0 or drawing != exposure[i - 1]:
            out.append(_entry(i, NULL_CELL if drawing is None else str(drawing)))
    if exposure and exposure[-1] is not None:
        out.append(_entry(len(exposure), NULL_CELL))
    return out


def _cue_tracks(cues: Sequence[Cue]) -> tuple[list[str], list[dict[str, Any]]]:
    names = list(dict.fromkeys(cue.track for cue in cues))
    tracks = []
    for number, name in enumerate(names):
        frames: dict[int, str] = {}
        for cue in (c for c in cues if c.track == name):
            frames.setdefault(cue.first + cue.frames, NULL_CELL)
            frames[cue.first] = cue.text
        tracks.append({"frames": [_entry(f, v) for f, v in sorted(frames.items())], "trackNo": number})
    return names, tracks


def write_xdts(
    tracks: Sequence[tuple[str, Exposure]],
    name: str,
    dialogue: Sequence[Cue] = (),
    camerawork: Sequence[Cue] = (),
    scene_and_cut: tuple[int, int] | None = None,
) -> bytes:
    """An XDTS file of cel ``tracks`` (a name and one entry a frame each, all as long as the sheet), with
    dialogue and camerawork cues; ``scene_and_cut`` fills the header OpenToonz shows (numbers up to 4 digits).
    """
    if not tracks:
        raise CompositorError(f"{name}: no layers to write (an XDTS sheet needs at least one cel track)")
    duration = len(tracks[0][1])
    headers: list[dict[str, Any]] = [{"fieldId": CELL, "names": [n for n, _ in tracks]}]
    fields: list[dict[str, Any]] = [
        {"fieldId": CELL, "tracks": [{"frames": _cel_frames(e), "trackNo": i} for i, (_, e) in enumerate(tracks)]}
    ]
    for field_id, cues in ((DIALOGUE, dialogue), (CAMERAWORK, camerawork)):
        if cues:
            names, cue_tracks = _cue_tracks(cues)
            headers.append({"fieldId": field_id, "names": names})
            fields.append({"fieldId": field_id, "tracks": cue_tracks})
    document: dict[str, Any] = {
        "timeTables": [{"duration": duration, "fields": fields, "name": name, "timeTableHeaders": headers}],
        "version": VERSION,
    }
    if scene_and_cut is not None and all(0 <= n <= 9999 for n in scene_and_cut):
        document["header"] = {"cut": str(scene_and_cut[1]), "scene": str(scene_and_cut[0])}
    # Keys sorted and four-space indents: what OpenToonz's own exporter (Qt's QJsonDocument) writes.
    return (IDENTIFIER + "\n" + json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False) + "\n").encode()


def scene_and_cut(cut_name: str) -> tuple[int, int] | None:
    """``sc010_c020`` → (10, 20): the scene and cut numbers an XDTS header carries, when the name has them."""
    m = re.fullmatch(r"[A-Za-z]*?(\d{1,4})[_-]?[A-Za-z]+(\d{1,4})", cut_name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def timing_text(exposure: Exposure) -> str:
    """An exposure as a layer's ``timing`` (``compositor.core.timesheet``): a drawing number where it changes,
    ``.`` where it holds, ``x`` on an empty frame; ``parse_timing`` gives the exposure back."""
    tokens = []
    for i, drawing in enumerate(exposure):
        if drawing is None:
            tokens.append("x")
        elif i > 0 and drawing == exposure[i - 1]:
            tokens.append(".")
        else:
            tokens.append(str(drawing))
    return " ".join(tokens)


def cut_xdts(shot: Shot) -> bytes:
    """A cut's timings as an XDTS file: one cel track per layer, named like the
    layer, and the dialogue and camerawork of the cut's own sheet, if it has one."""
    tracks = [(layer.name, parse_timing(layer.timing, shot.frames)) for layer in shot.spec.layers]
    sheet: Timesheet | None = shot.timesheet
    return write_xdts(
        tracks,
        name=shot.name,
        dialogue=sheet.dialogue if sheet else (),
        camerawork=sheet.camerawork if sheet else (),
        scene_and_cut=scene_and_cut(shot.name),
    )
