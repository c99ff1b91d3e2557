"""The screening cut (``compositor cut``): every cut of ``shots/edit.toml`` in order, with slate and audio.

Outputs, all under ``render/`` and all written under a temporary name and then renamed:

- ``<edit>.mp4``: the slate (``edit.slate`` seconds: title, date, the cuts with their lengths, the total frame
  count), then each ``render/<cut>/<cut>.mp4`` in edit.toml order, then ``edit.audio`` muxed in as AAC and cut
  (or padded with silence) to the picture's length. The slate is drawn by ffmpeg (``color`` source +
  ``drawtext`` with the shipped font) and encoded with the edit's preset, the same settings as the cuts, so
  the pieces are joined by the concat demuxer with ``-c copy``: no cut is encoded twice.
- ``<edit>.otio``: an OpenTimelineIO timeline, one video track; the slate is a Gap, each cut a Clip whose
  media is the cut's movie (a path relative to ``render/``), with
  ``metadata["compositor"] = {cut, frames, start}``.
- ``<edit>.edl``: CMX 3600 from the same timeline (OTIO's ``cmx_3600`` adapter); record timecodes start at
  00:00:00:00 at the first slate frame, source timecodes at 00:00:00:00 at each cut movie's first frame. Reel
  names are the full cut names (``sc010_c010``), not truncated to 8 characters, so no two cuts share a reel.
- ``<edit>.html``: a review page: the movie, and a table of cuts with their frame ranges on the timesheet and
  in the screening cut, their timecodes, a thumbnail (``<edit>.thumbs/<cut>.png``, from the middle comp frame)
  and the E_warp figures of ``render/<cut>/qc.json`` where a cut has one. While the movie plays, the page
  shows which cut and which timesheet frame is on screen.

The slate's date is ``$SOURCE_DATE_EPOCH`` when set (so a rebuild can be bit-identical), else today.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import ffmpeg
import numpy as np
import opentimelineio as otio

from compositor.steps.encode import (
    FONT,
    EncodePreset,
    Progress,
    comp_frame,
    cut_movie,
    ffmpeg_exe,
    finish_video,
    frame_rate,
    load_preset,
    probe,
    run_ffmpeg,
    video_output_args,
)
from compositor.errors import BackendMissingError, EncodeError, MissingInputError
from compositor.core.io import read_image, temp_name, write_bytes_atomic, write_image
from compositor.spec import Edit, Shot, load_shot

THUMB_WIDTH = 160


@dataclass(frozen=True)
class CutEntry:
    """One cut as it sits in the screening cut."""

    shot: Shot
    movie: Path
    record_start: int
    """0-based index of the cut's first frame in the screening cut (the slate comes first)."""

    @property
    def name(self) -> str:
        return self.shot.name

    @property
    def frames(self) -> int:
        return self.shot.frames


def edit_outputs(edit: Edit) -> dict[str, Path]:
    """Where `build_edit` writes: ``mp4``, ``otio``, ``edl``, ``html`` and the ``thumbs`` folder."""
    render, name = edit.production.render, edit.edit.name
    return {
        "mp4": render / f"{name}.mp4",
        "otio": render / f"{name}.otio",
        "edl": render / f"{name}.edl",
        "html": render / f"{name}.html",
        "thumbs": render / f"{name}.thumbs",
    }


def slate_frames(edit: Edit) -> int:
    return round(edit.edit.slate * edit.edit.fps)


def seconds_and_frames(frames: int, fps: float) -> str:
    """A length as animators say it, seconds+frames: 52 frames at 24 fps → ``2+04``."""
    per = max(1, round(fps))
    return f"{frames // per}+{frames % per:02d}"


def slate_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).date().isoformat()
    return dt.date.today().isoformat()


def _report(progress: Progress | None, description: str, done: int, total: int) -> None:
    if progress is not None:
        progress(description, done, total)


# ------------------------------------------------------------------------------------------------------------
# The cuts, checked


def plan_edit(edit: Edit) -> list[CutEntry]:
    """The cuts in edit.toml order with their movies; every movie must exist (else `MissingInputError`)."""
    production = edit.production
    entries: list[CutEntry] = []
    position = slate_frames(edit)
    for name in edit.edit.cuts:
        shot = load_shot(production, name, edit)
        movie = cut_movie(shot)
        if not movie.is_file():
            raise MissingInputError(
                f"{production.rel(movie)}: cut {name} is not encoded yet (run `make {name}` first)"
            )
        entries.append(CutEntry(shot, movie, position))
        position += shot.frames
    return entries


def check_compatible(
    edit: Edit, preset_name: str, preset: EncodePreset, entries: list[CutEntry]
) -> dict[str, Any]:
    """Every cut movie has the frames of its cut and the same stream settings; returns the first one's facts.

    ``-c copy`` concatenation needs one codec, pixel format, size and frame rate throughout.
    """
    production = edit.production
    first: dict[str, Any] | None = None
    rate = float(frame_rate(edit.edit.fps))
    for entry in entries:
        facts = probe(entry.movie)
        display = production.rel(entry.movie)
        if facts["frames"] != entry.frames:
            raise EncodeError(
                f"{display}: holds {facts['frames']} frames but {entry.name} has {entry.frames} "
                f"(re-encode it: `make {entry.name}`)"
            )
        got = (facts["codec"], facts["pix_fmt"], facts["width"], facts["height"], round(facts["fps"], 3))
        if first is None:
            first = facts
            expected = ("h264", preset.pix_fmt, facts["width"], facts["height"], round(rate, 3))
        else:
            expected = ("h264", preset.pix_fmt, first["width"], first["height"], round(rate, 3))
        if got != expected:

            def show(v: tuple) -> str:
                return f"{v[0]} {v[1]} {v[2]}x{v[3]} at {v[4]:g} fps"

            raise EncodeError(
                f"{display}: is {show(got)}, but the screening cut ({preset_name!r} preset) needs "
                f"{show(expected)}: "
                f"encode every cut with edit.toml's preset and size"
            )
    assert first is not None
    return first


# ------------------------------------------------------------------------------------------------------------
# The slate


def slate_text(
    edit: Edit, preset_name: str, size: tuple[int, int], entries: list[CutEntry]
) -> tuple[str, str, list[str]]:
    """The slate's title, its information lines and one line per cut."""
    fps = edit.edit.fps
    total = sum(e.frames for e in entries)
    title = edit.edit.title or edit.edit.name
    info = "\n".join(
        [
            f"{edit.edit.name}   {slate_date()}   {fps:g} fps   {size[0]}x{size[1]}   {preset_name}",
            f"{len(entries)} cuts   {total} frames ({seconds_and_frames(total, fps)})",
        ]
    )
    width = max(len(e.name) for e in entries)
    lines = [
        f"{i:>3}  {e.name:<{width}}  {e.frames:>6}  {seconds_and_frames(e.frames, fps):>6}"
        for i, e in enumerate(entries, 1)
    ]
    return title, info, lines


def slate_list_header(entries: list[CutEntry]) -> str:
    width = max(len(e.name) for e in entries)
    return f"{'#':>3}  {'cut':<{width}}  {'frames':>6}  {'sec+fr':>6}"


def encode_slate(
    edit: Edit,
    preset: EncodePreset,
    preset_name: str,
    size: tuple[int, int],
    entries: list[CutEntry],
    out: Path,
    workdir: Path,
    progress: Progress | None = None,
) -> None:
    """Encode ``slate_frames(edit)`` slate frames to ``out`` with the edit's preset (so it concatenates)."""
    w, h = size
    frames = slate_frames(edit)
    title, info, lines = slate_text(edit, preset_name, size, entries)
    left, top = round(w * 0.06), round(h * 0.08)
    # A long title gets smaller rather than running off the frame (a monospace glyph is 0.6 em wide).
    title_size = max(8, min(round(h * 0.07), round((w - 2 * left) / (0.62 * max(1, len(title))))))
    body = max(8, round(h * 0.032))
    list_top = top + round(title_size * 1.6) + round(body * 1.4) * 2 + body
    # Shrink the list's text until its columns fit across the frame (a short with many cuts).
    while True:
        step = math.ceil(body * 1.6)  # drawtext advances about 1.17 x the font size, plus line_spacing
        rows = max(1, (round(h * 0.94) - list_top) // step - 1)  # one row for the header
        columns = math.ceil(len(lines) / rows)
        column_width = round((len(lines[0]) + 4) * body * 0.62)
        if columns * column_width <= w - 2 * left or body <= 8:
            break
        body -= 1
    texts: list[tuple[str, int, int, int]] = [(info, left, top + round(title_size * 1.6), body)]
    header = slate_list_header(entries)
    for c in range(columns):
        chunk = [header, *lines[c * rows : (c + 1) * rows]]
        texts.append(("\n".join(chunk), left + c * column_width, list_top, body))

    stream = ffmpeg.input(f"color=c=0x1a1a1a:s={w}x{h}:r={frame_rate(edit.edit.fps)}", f="lavfi")
    common = {"fontfile": str(FONT), "expansion": "none", "fontcolor": "white"}
    title_file = workdir / "slate-title.txt"
    title_file.write_text(title, encoding="utf-8")
    stream = stream.filter("drawtext", textfile=str(title_file), x=left, y=top, fontsize=title_size, **common)
    for i, (text, x, y, fontsize) in enumerate(texts):
        path = workdir / f"slate-{i}.txt"
        path.write_text(text, encoding="utf-8")
        stream = stream.filter(
            "drawtext",
            textfile=str(path),
            x=x,
            y=y,
            fontsize=fontsize,
            line_spacing=round(fontsize * 0.4),
            **common,
        )
    stream = finish_video(stream, preset)
    args = (
        stream.output(str(out), **video_output_args(preset, frames))
        .overwrite_output()
        .compile(cmd=ffmpeg_exe())
    )
    run_ffmpeg(args, edit.production.rel(out), "slate", frames, progress)


# ------------------------------------------------------------------------------------------------------------
# The screening movie


def _concat_line(path: Path) -> str:
    return "file '" + str(path.resolve()).replace("'", "'\\''") + "'\n"


def concat_movies(
    edit: Edit,
    preset: EncodePreset,
    pieces: list[Path],
    total: int,
    out: Path,
    workdir: Path,
    progress: Progress | None = None,
) -> None:
    """Join ``pieces`` with ``-c copy`` into ``out``, with edit.audio (AAC) cut or padded to the picture."""
    listing = workdir / "concat.txt"
    listing.write_text("".join(_concat_line(p) for p in pieces), encoding="utf-8")
    video = ffmpeg.input(str(listing), f="concat", safe=0)
    options: dict[str, Any] = {"vcodec": "copy", "movflags": preset.movflags, "map_metadata": -1}
    streams = [video["v:0"]]
    if edit.audio is not None:
        audio = ffmpeg.input(str(edit.audio))["a:0"].filter("apad")
        streams.append(audio)
        rate = frame_rate(edit.edit.fps)
        options.update(
            acodec=preset.audio_codec, audio_bitrate=preset.audio_bitrate, t=f"{float(total / rate):.6f}"
        )
    else:
        options["an"] = None
    args = ffmpeg.output(*streams, str(out), **options).overwrite_output().compile(cmd=ffmpeg_exe())
    run_ffmpeg(args, edit.production.rel(out), "screening cut", total, progress)


# ------------------------------------------------------------------------------------------------------------
# Editorial exports


def build_timeline(edit: Edit, entries: list[CutEntry]) -> otio.schema.Timeline:
    """One video track: the slate as a Gap, then a Clip per cut with its movie (relative to render/)."""
    fps = float(frame_rate(edit.edit.fps))
    title = edit.edit.title or edit.edit.name
    timeline = otio.schema.Timeline(name=title)
    timeline.global_start_time = otio.opentime.RationalTime(0, fps)
    timeline.metadata["compositor"] = {
        "edit": edit.edit.name,
        "title": edit.edit.title,
        "fps": edit.edit.fps,
        "slate_frames": slate_frames(edit),
        "movie": f"{edit.edit.name}.mp4",
    }
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    if slate_frames(edit):
        track.append(
            otio.schema.Gap(
                name="slate",
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(slate_frames(edit), fps)
                ),
            )
        )
    for entry in entries:
        whole = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(entry.frames, fps)
        )
        media = otio.schema.ExternalReference(
            target_url=entry.movie.relative_to(edit.production.render).as_posix(), available_range=whole
        )
        clip = otio.schema.Clip(name=entry.name, media_reference=media, source_range=whole)
        clip.metadata["compositor"] = {"cut": entry.name, "frames": entry.frames, "start": entry.shot.start}
        clip.metadata["cmx_3600"] = {"reel": entry.name}
        track.append(clip)
    timeline.tracks.append(track)
    return timeline


def edl_text(timeline: otio.schema.Timeline) -> str:
    """CMX 3600 through OTIO's adapter, with full cut names as reels (see the module's docstring)."""
    if "cmx_3600" not in otio.adapters.available_adapter_names():
        raise BackendMissingError(
            "opentimelineio has no cmx_3600 adapter: `pip install otio-cmx3600-adapter` "
            "(a compositor dependency)"
        )
    return otio.adapters.write_to_string(timeline.deepcopy(), adapter_name="cmx_3600", reelname_len=None)


# ------------------------------------------------------------------------------------------------------------
# The review page


def write_thumbnail(entry: CutEntry, folder: Path) -> Path | None:
    """A small PNG of the cut's middle comp frame, or None when the comp frames are gone."""
    source = comp_frame(entry.shot, entry.shot.start + entry.frames // 2)
    if not source.is_file():
        return None
    frame = read_image(source)
    h, w = frame.shape[:2]
    size = (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if w > THUMB_WIDTH else cv2.INTER_LINEAR)
    path = folder / f"{entry.name}.png"
    write_image(path, np.ascontiguousarray(small, dtype=np.float32))
    return path


def warp_figures(qc_path: Path) -> list[tuple[str, float]]:
    """The E_warp numbers of a cut's qc.json: every number whose key path mentions "warp", in file order."""
    if not qc_path.is_file():
        return []
    try:
        data = json.loads(qc_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return []
    found: list[tuple[str, float]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, (int, float)) and not isinstance(node, bool) and "warp" in path.lower():
            found.append((path, float(node)))

    walk(data, "")
    return found


def _timecode(frame: int, fps: float) -> str:
    return otio.opentime.to_timecode(otio.opentime.RationalTime(frame, fps), fps)


def review_html(
    edit: Edit, entries: list[CutEntry], thumbs: dict[str, Path | None], outputs: dict[str, Path]
) -> str:
    render = edit.production.render
    fps = float(frame_rate(edit.edit.fps))
    title = edit.edit.title or edit.edit.name
    slate = slate_frames(edit)
    total = slate + sum(e.frames for e in entries)
    rows = []
    for i, e in enumerate(entries, 1):
        thumb = thumbs.get(e.name)
        img = (
            f'<img src="{html.escape(thumb.relative_to(render).as_posix())}" alt="{html.escape(e.name)}">'
            if thumb
            else "—"
        )
        figures = warp_figures(e.shot.out / "qc.json")
        qc = "<br>".join(f"{html.escape(k)}: {v:.4g}" for k, v in figures) or "—"
        first, last = e.record_start + 1, e.record_start + e.frames
        rows.append(
            f'<tr data-start="{e.record_start}" data-frames="{e.frames}" data-first="{e.shot.start}">'
            f"<td>{i}</td><td>{img}</td>"
            f'<td><a href="{html.escape(e.movie.relative_to(render).as_posix())}">'
            f"{html.escape(e.name)}</a></td>"
            f"<td>{e.shot.start}–{e.shot.start + e.frames - 1}</td>"
            f"<td>{e.frames} ({seconds_and_frames(e.frames, fps)})</td>"
            f"<td>{first}–{last}</td>"
            f"<td>{_timecode(e.record_start, fps)} – {_timecode(e.record_start + e.frames, fps)}</td>"
            f"<td>{qc}</td></tr>"
        )
    cuts_json = json.dumps(
        [{"cut": e.name, "start": e.record_start, "frames": e.frames, "first": e.shot.start} for e in entries]
    ).replace("</", "<\\/")
    movie = outputs["mp4"].relative_to(render).as_posix()
    exports = " · ".join(
        f'<a href="{html.escape(outputs[k].relative_to(render).as_posix())}">{k.upper()}</a>'
        for k in ("otio", "edl")
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} — review</title>
<style>
body {{ font-family: sans-serif; background: #181818; color: #ddd; margin: 2em; }}
video {{ max-width: 100%; background: #000; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
th, td {{ border-bottom: 1px solid #333; padding: 0.3em 0.8em; text-align: left; vertical-align: middle; }}
tr[data-start] {{ cursor: pointer; }}
tr.on {{ background: #2c3e50; }}
a {{ color: #8cf; }}
#where {{ font-family: monospace; font-size: 1.2em; margin: 0.5em 0; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>{len(entries)} cuts, {total - slate} frames + {slate} slate frames at {edit.edit.fps:g} fps · {exports}</p>
<video id="movie" src="{html.escape(movie)}" controls preload="metadata"></video>
<div id="where">—</div>
<table>
<thead><tr><th>#</th><th>thumbnail</th><th>cut</th><th>timesheet frames</th><th>length</th>
<th>screening-cut frames</th><th>record timecode</th><th>E_warp (qc.json)</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<script>
const FPS = {fps!r}, SLATE = {slate}, CUTS = {cuts_json};
const video = document.getElementById("movie"), where = document.getElementById("where");
const rows = Array.from(document.querySelectorAll("tr[data-start]"));
function show() {{
  const n = Math.floor(video.currentTime * FPS + 1e-6);
  const i = CUTS.findIndex(c => n >= c.start && n < c.start + c.frames);
  rows.forEach((r, k) => r.classList.toggle("on", k === i));
  where.textContent = i < 0 ? (n < SLATE ? `slate · frame ${{n + 1}}` : "—")
    : `frame ${{n + 1}} of the screening cut · ${{CUTS[i].cut}} frame ${{CUTS[i].first + n - CUTS[i].start}}`;
}}
video.addEventListener("timeupdate", show);
video.addEventListener("seeked", show);
rows.forEach(r => r.addEventListener("click", () => {{
  video.currentTime = (Number(r.dataset.start) + 0.5) / FPS;
}}));
</script>
</body>
</html>
"""


# ------------------------------------------------------------------------------------------------------------


def build_edit(edit: Edit, progress: Progress | None = None) -> dict[str, Path]:
    """Make the screening cut and its editorial exports; returns the paths by kind (see `edit_outputs`).

    Raises `MissingInputError` naming the first cut whose movie is missing, `EncodeError` if a cut movie does
    not match its cut or the others, or if ffmpeg fails. Nothing is left at a final name unless complete.
    """
    production = edit.production
    outputs = edit_outputs(edit)
    preset_name = edit.edit.encode
    preset = load_preset(production, preset_name)
    entries = plan_edit(edit)
    facts = check_compatible(edit, preset_name, preset, entries)
    size = (facts["width"], facts["height"])
    slate = slate_frames(edit)
    total = slate + sum(e.frames for e in entries)

    production.render.mkdir(parents=True, exist_ok=True)
    movie_tmp = temp_name(outputs["mp4"])
    try:
        with tempfile.TemporaryDirectory(prefix=".cut-", dir=production.render) as work:
            workdir = Path(work)
            pieces = [e.movie for e in entries]
            if slate:
                slate_movie = workdir / "slate.mp4"
                encode_slate(edit, preset, preset_name, size, entries, slate_movie, workdir, progress)
                pieces.insert(0, slate_movie)
            concat_movies(edit, preset, pieces, total, movie_tmp, workdir, progress)
        got = probe(movie_tmp)
        display = production.rel(outputs["mp4"])
        if got["frames"] != total:
            raise EncodeError(
                f"{display}: the joined movie has {got['frames']} frames, expected {total} "
                f"({slate} slate + {total - slate} from the cuts)"
            )
        if edit.audio is not None and not got["has_audio"]:
            raise EncodeError(
                f"{display}: the audio track of {production.rel(edit.audio)} did not make it in"
            )
        os.replace(movie_tmp, outputs["mp4"])
    finally:
        movie_tmp.unlink(missing_ok=True)

    timeline = build_timeline(edit, entries)
    write_bytes_atomic(outputs["otio"], otio.adapters.write_to_string(timeline, "otio_json").encode("utf-8"))
    write_bytes_atomic(outputs["edl"], edl_text(timeline).encode("utf-8"))

    thumbs: dict[str, Path | None] = {}
    for i, entry in enumerate(entries):
        _report(progress, "thumbnails", i, len(entries))
        thumbs[entry.name] = write_thumbnail(entry, outputs["thumbs"])
    _report(progress, "thumbnails", len(entries), len(entries))
    write_bytes_atomic(outputs["html"], review_html(edit, entries, thumbs, outputs).encode("utf-8"))
    return outputs
