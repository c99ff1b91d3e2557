"""The review page, ``render/<edit>.html``: the screening cut's movie, and a table of its cuts (frame ranges
on the timesheet and in the screening cut, timecodes, a thumbnail from the middle comp frame, the temporal
pass's figures from ``qc.json``). While the movie plays, the page shows which cut and timesheet frame is on
screen; the dialogue of the cuts' XDTS timesheets is listed below the cuts (a click seeks to its line). The
page is ``review.html.j2`` beside this file, filled in by Jinja2 (every value escaped).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import jinja2
import markupsafe
import numpy as np

from compositor.core.io import read_image, write_image
from compositor.spec import Edit, TemporalQC
from compositor.steps.background import read_qc
from compositor.steps.edit.editorial import record_start, timecode
from compositor.steps.edit.plan import CutEntry
from compositor.steps.edit.slate import seconds_and_frames, slate_frames
from compositor.steps.encode import frame_rate

THUMB_WIDTH = 160

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def write_thumbnail(entry: CutEntry, path: Path) -> Path | None:
    """A small PNG of the cut's middle comp frame at ``path``, or None when the comp frames are gone."""
    source = entry.shot.paths.comp_frame(entry.shot.start + entry.frames // 2)
    if not source.is_file():
        return None
    frame = read_image(source)
    h, w = frame.shape[:2]
    size = (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if w > THUMB_WIDTH else cv2.INTER_LINEAR)
    write_image(path, np.ascontiguousarray(small, dtype=np.float32))
    return path


def _qc(qc: TemporalQC | None) -> dict[str, str] | None:
    if qc is None or qc.e_warp_before is None:
        return None

    def number(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    return {
        "before": number(qc.e_warp_before, ".4g"),
        "after": number(qc.e_warp_after, ".4g"),
        "psnr": number(qc.psnr, ".2f"),
    }


def review_html(edit: Edit, entries: list[CutEntry], thumbs: dict[str, Path | None]) -> str:
    paths = edit.paths
    render = edit.production.render
    fps = float(frame_rate(edit.edit.fps))
    slate = slate_frames(edit)

    def href(path: Path) -> str:
        return path.relative_to(render).as_posix()

    first_record = record_start(edit)
    rows: list[dict[str, Any]] = []
    for e in entries:
        record = read_qc(e.shot)
        thumb = thumbs.get(e.name)
        rows.append(
            {
                "cut": e.name,
                "start": e.record_start,
                "frames": e.frames,
                "first": e.shot.start,
                "last": e.shot.start + e.frames - 1,
                "length": seconds_and_frames(e.frames, fps),
                "thumb": href(thumb) if thumb else None,
                "movie": href(e.movie),
                "tc_in": timecode(first_record + e.record_start, edit),  # as the EDL counts: from start_timecode
                "tc_out": timecode(first_record + e.record_start + e.frames, edit),
                "qc": _qc(record.temporal if record else None),
            }
        )
    # Dialogue from the cuts' XDTS timesheets, as the OTIO's markers place it
    dialogue = [
        {
            "cut": e.name,
            "sheet": f"{e.shot.start + cue.first}–{e.shot.start + cue.first + cue.frames - 1}",
            "start": e.record_start + cue.first,
            "tc": timecode(first_record + e.record_start + cue.first, edit),
            "track": cue.track,
            "text": cue.text,
        }
        for e in entries
        if e.shot.timesheet is not None
        for cue in e.shot.timesheet.dialogue
    ]
    cuts = [{"cut": e.name, "start": e.record_start, "frames": e.frames, "first": e.shot.start} for e in entries]
    return _TEMPLATES.get_template("review.html.j2").render(
        title=edit.edit.title or edit.edit.name,
        frames=sum(e.frames for e in entries),
        slate=slate,
        fps=repr(fps),
        fps_label=f"{edit.edit.fps:g}",
        movie=href(paths.movie),
        exports=[("OTIO", href(paths.otio)), ("EDL", href(paths.edl))],
        rows=rows,
        dialogue=dialogue,
        # JSON inside <script>: no "</" may close the element early
        cuts_json=markupsafe.Markup(json.dumps(cuts).replace("</", "<\\/")),
    )
