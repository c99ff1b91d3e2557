"""The review page, ``render/<edit>.html``: the screening cut's movie, and a table of its cuts (frame ranges
on the timesheet and in the screening cut, record timecodes, a thumbnail from the middle comp frame, the
temporal pass's figures from ``qc.json``, the movie's PSNR against its comp frames). While the movie plays,
the page shows which cut and timesheet frame is on screen; the dialogue of the cuts' XDTS timesheets is
listed below the cuts (a click seeks to its line). The page is ``review.html.j2`` beside this file,
filled in by Jinja2 (every value escaped); it loads nothing from the network (no CDN, no web fonts).

- The player opens on ``<edit>.poster.png``, the screening cut's first frame (`write_poster`).
- Debian's Chromium plays the screening preset's 8-bit 4:2:0 H.264 (the headless test shows it), as do the
  other common browsers; an edit whose preset they cannot play (4:4:4, 10-bit, another codec) gets a VP9
  copy, ``<edit>.proxy.webm``, as the page's first source (`write_proxy`).
- Editors' keys: ←/→ and ,/. step one frame, J/K/L play backwards/stop/forwards (again: faster), space
  plays or pauses, Home/End go to the first/last frame, N writes a note on the frame shown.
- Notes per frame are kept in ``<edit>.notes.json`` beside the page: served by ``compositor review``
  (``steps.edit.notes``) the page saves them there itself; opened as a file, it offers them to save
  (the File System Access API's save dialog where the browser has one, else a download).
- The PSNR of each cut's movie is measured by ffmpeg's ``psnr`` filter against the comp frames, over the
  rows the burn-ins leave alone, and kept in ``<edit>.thumbs/<cut>.json`` under the movie's key, so it is
  measured again only when the movie changes.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import cv2
import jinja2
import markupsafe
import numpy as np

from compositor.core import Progress
from compositor.core.io import ensure_folder, read_image, temp_name, write_bytes_atomic, write_image
from compositor.errors import EncodeError
from compositor.spec import Edit, TemporalQC
from compositor.steps.background import read_qc
from compositor.steps.burnin import FONT, text_layout
from compositor.steps.edit.editorial import record_start, timecode
from compositor.steps.edit.notes import read_notes
from compositor.steps.edit.plan import CutEntry
from compositor.steps.edit.slate import seconds_and_frames, slate_frames
from compositor.steps.encode import OutputFile, even_size, ffmpeg_exe, frame_rate, last_error_line, run_ffmpeg

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


def write_poster(edit: Edit, movie: Path, path: Path) -> Path:
    """The movie's first frame as a PNG at ``path`` (the page shows it before the movie loads)."""
    facts_w, facts_h = _movie_size(movie)
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(movie), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "pipe:"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or len(done.stdout) != facts_w * facts_h * 3:
        reason = last_error_line(done.stderr.decode(errors="replace"))
        raise EncodeError(f"{edit.production.rel(movie)}: cannot decode its first frame for the poster: {reason}")
    rgb = np.frombuffer(done.stdout, np.uint8).reshape(facts_h, facts_w, 3).astype(np.float32) / 255
    write_image(path, np.dstack([rgb, np.ones((facts_h, facts_w, 1), np.float32)]))
    return path


def needs_proxy(edit: Edit) -> bool:
    """Whether browsers cannot play the screening cut as encoded: they play 8-bit 4:2:0 H.264 (Debian's
    Chromium included), not 4:4:4, 10-bit or an editorial codec."""
    preset = edit.preset
    return preset.pix_fmt != "yuv420p" or getattr(preset, "codec", "libx264") != "libx264"


def write_proxy(edit: Edit, movie: Path, key: str, progress: Progress | None = None) -> Path:
    """``<edit>.proxy.webm``: the screening cut as VP9 4:2:0 (Opus sound) for the review page, remade only
    when the movie's key changed (kept in ``<edit>.thumbs/proxy.json``)."""
    paths = edit.paths
    record = paths.thumbs / "proxy.json"
    try:
        if paths.proxy.is_file() and json.loads(record.read_text(encoding="utf-8")).get("key") == key:
            return paths.proxy
    except (OSError, ValueError, AttributeError):
        pass
    ensure_folder(paths.thumbs)
    output = OutputFile(temp_name(paths.proxy), paths.proxy)
    try:
        args = [
            ffmpeg_exe(), "-i", str(movie), "-map", "0:v:0", "-map", "0:a?", "-c:v", "libvpx-vp9",
            "-pix_fmt", "yuv420p", "-crf", "32", "-b:v", "0", "-deadline", "good", "-cpu-used", "5", "-row-mt", "1",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            "-c:a", "libopus", "-b:a", "128k", "-f", "webm", "-y", output.target,
        ]  # fmt: skip
        run_ffmpeg(args, edit.production.rel(paths.proxy), "review proxy (VP9)", 0, progress, output)
        output.keep()
    finally:
        output.discard()
    write_bytes_atomic(record, json.dumps({"key": key}).encode("utf-8"))
    return paths.proxy


def _movie_size(movie: Path) -> tuple[int, int]:
    from compositor.steps.encode import probe  # noqa: PLC0415

    facts = probe(movie)
    return int(facts["width"]), int(facts["height"])


_PSNR = re.compile(r"PSNR .*average:(\S+)")


def movie_psnr(entry: CutEntry) -> float | None:
    """The PSNR (dB, RGB) of the cut's movie against its comp frames over the rows between the burn-ins; None
    when comp frames are missing or ffmpeg cannot compare them. Kept under the movie's key in
    ``<edit>.thumbs/<cut>.json``."""
    shot = entry.shot
    record = shot.edit.paths.movie_qc(shot.name)
    try:
        kept = json.loads(record.read_text(encoding="utf-8"))
        if kept.get("key") == entry.key and entry.key is not None:
            return kept.get("psnr")
    except (OSError, ValueError, AttributeError):
        pass
    if any(not shot.paths.comp_frame(n).is_file() for n in shot.frame_numbers()):
        return None
    _, preset = shot.preset()
    w, h = shot.size
    skip = 0
    if preset.burn_in:
        fontsize, band, margin = text_layout(even_size(shot.size, preset)[1], preset)
        skip = band or margin + 2 * fontsize
    crop = f"crop={w}:{max(2, h - 2 * skip)}:0:{min(skip, h // 2 - 1)}"
    graph = f"[0:v]{crop},format=gbrp[a];[1:v]{crop},format=gbrp[b];[a][b]psnr"
    args = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(entry.movie),
        "-framerate", str(frame_rate(shot.fps)), "-start_number", str(shot.start), "-i", str(shot.paths.comp_pattern),
        "-lavfi", graph, "-f", "null", "-",
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, errors="replace", check=False)
    found = _PSNR.search(done.stderr)
    if done.returncode != 0 or not found:
        return None  # a figure for the page, not a reason to refuse the screening cut: the page shows "—"
    value = found.group(1)
    psnr = 100.0 if value == "inf" else round(float(value), 3)
    write_bytes_atomic(record, json.dumps({"cut": shot.name, "key": entry.key, "psnr": psnr}).encode("utf-8"))
    return psnr


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


def review_html(
    edit: Edit, entries: list[CutEntry], thumbs: dict[str, Path | None], psnr: dict[str, float | None] | None = None
) -> str:
    paths = edit.paths
    render = edit.production.render
    fps = float(frame_rate(edit.edit.fps))
    slate = slate_frames(edit)
    start_tc = edit.edit.start_timecode
    psnr = psnr or {}

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
                "psnr": None if psnr.get(e.name) is None else f"{psnr[e.name]:.2f}",
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
    notes = read_notes(paths.notes)

    def script_json(value: Any) -> markupsafe.Markup:
        # JSON inside <script>: no "</" may close the element early
        return markupsafe.Markup(json.dumps(value, ensure_ascii=False).replace("</", "<\\/"))

    return _TEMPLATES.get_template("review.html.j2").render(
        edit_name=edit.edit.name,
        version=edit.edit.version,
        start_tc=start_tc,
        total=slate + sum(e.frames for e in entries),
        poster=href(paths.poster) if paths.poster.is_file() else None,
        page_font=href(paths.page_font(FONT.name)),
        notes_file=paths.notes.name,
        notes_json=script_json(notes),
        title=edit.edit.title or edit.edit.name,
        frames=sum(e.frames for e in entries),
        slate=slate,
        fps=repr(fps),
        fps_label=f"{edit.edit.fps:g}",
        # The VP9 proxy first where there is one: a browser takes the first source it can play.
        sources=([(href(paths.proxy), "video/webm")] if needs_proxy(edit) and paths.proxy.is_file() else [])
        + [(href(paths.movie), "video/mp4")],
        exports=[("OTIO", href(paths.otio)), ("EDL", href(paths.edl))],
        rows=rows,
        dialogue=dialogue,
        cuts_json=script_json(cuts),
        start_frame=first_record,
        tc_rate=max(1, round(fps)),
        drop=2 * (max(1, round(fps)) // 30) if edit.edit.drop_frame else 0,
    )
