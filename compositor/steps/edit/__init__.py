"""The screening cut (``compositor cut``): every cut of ``shots/edit.toml`` in order, with slate and audio.

Outputs, all under ``render/`` (``compositor.layout.EditPaths``), each written under a temporary name and
renamed:

- ``<edit>.mp4``: the slate (``slate``), then each cut's movie in edit.toml order, joined by the concat
  demuxer with ``-c copy`` (no cut is encoded twice), then ``edit.audio`` muxed in as AAC and cut (or padded
  with silence) to the picture's length. Its ``comment`` tag carries its key: the cuts' movies' keys, the
  edit's values, the slate's text, the audio's bytes, the preset, the ffmpeg; a fresh movie is not remade.
- ``<edit>.otio`` and ``<edit>.edl`` (``editorial``; review notes from ``<edit>.notes.json`` become markers),
  ``<edit>.html``, ``<edit>.poster.png`` and ``<edit>.thumbs/`` (``review``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg
import opentimelineio as otio

from compositor.core import Progress
from compositor.core.digest import content_key, file_digest
from compositor.core.io import (
    copy_file_atomic,
    discard,
    ensure_folder,
    output_error,
    remove_stale_temp_files,
    temp_name,
    touch,
    write_bytes_atomic,
)
from compositor.errors import EncodeError
from compositor.spec import Edit, EncodePreset
from compositor.steps.burnin import FONT, font_of
from compositor.steps.edit.editorial import build_timeline, edit_audio, edl_text, read_notes
from compositor.steps.edit.plan import CutEntry, plan_edit
from compositor.steps.edit.review import (
    movie_psnr,
    needs_proxy,
    review_html,
    write_poster,
    write_proxy,
    write_thumbnail,
)
from compositor.steps.edit.slate import encode_slate, slate_date, slate_frames, slate_text
from compositor.steps.encode import (
    ENCODE_VERSION,
    KEY_TAG,
    OutputFile,
    ffmpeg_build,
    ffmpeg_exe,
    frame_rate,
    movie_key,
    probe,
    run_ffmpeg,
    write_text_file,
)

__all__ = ["CutEntry", "build_edit", "edit_key", "plan_edit"]


def _report(progress: Progress | None, description: str, done: int, total: int) -> None:
    if progress is not None:
        progress(description, done, total)


def concat_movies(
    edit: Edit,
    preset: EncodePreset,
    pieces: list[Path],
    total: int,
    out: OutputFile,
    workdir: Path,
    key: str,
    progress: Progress | None = None,
) -> None:
    """Join ``pieces`` with ``-c copy`` into ``out``, with edit.audio (AAC) cut or padded to the picture."""
    listing = workdir / "concat.txt"
    write_text_file(listing, "".join("file '" + str(p.resolve()).replace("'", "'\\''") + "'\n" for p in pieces))
    video = ffmpeg.input(str(listing), f="concat", safe=0)
    options: dict[str, Any] = {
        "f": out.format,
        "vcodec": "copy",
        "movflags": preset.movflags,
        "map_metadata": -1,
        "metadata": f"comment={KEY_TAG}{key}",
    }
    streams = [video["v:0"]]
    if edit.audio is not None:
        streams.append(ffmpeg.input(str(edit.audio))["a:0"].filter("apad"))
        options.update(
            acodec=preset.audio_codec,
            audio_bitrate=preset.audio_bitrate,
            t=f"{float(total / frame_rate(edit.edit.fps)):.6f}",
        )
    else:
        options["an"] = None
    args = ffmpeg.output(*streams, out.target, **options).overwrite_output().compile(cmd=ffmpeg_exe(edit.ffmpeg))
    run_ffmpeg(args, edit.production.rel(out.final), "screening cut", total, progress, out)


def edit_key(edit: Edit, entries: list[CutEntry], size: tuple[int, int]) -> str:
    """The key of the screening movie: everything that decides its bytes."""
    title, info, lines = slate_text(edit, edit.edit.encode, size, entries)
    return content_key(
        {
            "version": ENCODE_VERSION,
            "edit": edit.edit.model_dump(mode="json", exclude={"cuts"}),
            "preset": edit.preset.model_dump(mode="json"),
            "cuts": [[e.name, e.frames, e.key] for e in entries],
            "slate": [title, info, lines, slate_date()] if slate_frames(edit) else None,
            "font": file_digest(font_of(edit)),
            "audio": file_digest(edit.audio) if edit.audio is not None else None,
            "ffmpeg": ffmpeg_build(edit.ffmpeg),
        }
    )


def build_edit(edit: Edit, progress: Progress | None = None) -> dict[str, Path]:
    """Make the screening cut and its editorial exports; returns the paths by kind (``EditPaths.files``).

    Raises `MissingInputError` naming the first cut whose movie is missing, `EncodeError` if a cut movie does
    not match its cut or the others, or if ffmpeg fails. Nothing is left at a final name unless complete.
    """
    production = edit.production
    paths = edit.paths
    preset = edit.preset
    slate = slate_frames(edit)
    entries = plan_edit(edit, slate)
    size = (entries[0].facts["width"], entries[0].facts["height"])
    total = slate + sum(e.frames for e in entries)
    key = edit_key(edit, entries, size)
    audio = edit_audio(edit)  # before the join: an unreadable file is an error naming edit.audio

    ensure_folder(production.render)
    remove_stale_temp_files(production.render)
    remove_stale_temp_files(paths.thumbs)
    if movie_key(paths.movie) == key:
        touch(paths.movie)  # checked and fresh: make's books agree with ours
    else:
        # The work folder carries this process's id (`temp_name`): what a killed run left is removed by the next.
        workdir = temp_name(production.render / f"cut-{edit.edit.name}")
        output: OutputFile | None = None
        try:
            discard(workdir)
            try:
                workdir.mkdir()
            except OSError as e:
                raise output_error(workdir, e, folder=True) from e
            pieces = [e.movie for e in entries]
            if slate:
                slate_movie = workdir / "slate.mp4"
                encode_slate(edit, preset, edit.edit.encode, size, entries, slate_movie, workdir, progress)
                pieces.insert(0, slate_movie)
            output = OutputFile(temp_name(paths.movie), paths.movie)
            concat_movies(edit, preset, pieces, total, output, workdir, key, progress)
            got = probe(output.tmp)
            display = production.rel(paths.movie)
            if got["frames"] != total:
                raise EncodeError(
                    f"{display}: the joined movie has {got['frames']} frames, expected {total} "
                    f"({slate} slate + {total - slate} from the cuts)"
                )
            if edit.audio is not None and not got["has_audio"]:
                raise EncodeError(f"{display}: the audio track of {production.rel(edit.audio)} did not make it in")
            output.keep()
        finally:
            if output is not None:
                output.discard()
            discard(workdir)

    timeline = build_timeline(edit, entries, read_notes(paths.notes, production.rel(paths.notes)), audio)
    write_bytes_atomic(paths.otio, otio.adapters.write_to_string(timeline, "otio_json").encode("utf-8"))
    write_bytes_atomic(paths.edl, edl_text(edit, timeline).encode("ascii"))

    thumbs: dict[str, Path | None] = {}
    for i, entry in enumerate(entries):
        _report(progress, "thumbnails", i, len(entries))
        thumbs[entry.name] = write_thumbnail(entry, paths.thumb(entry.name))
    _report(progress, "thumbnails", len(entries), len(entries))
    psnr: dict[str, float | None] = {}
    for i, entry in enumerate(entries):
        _report(progress, "PSNR of the movies", i, len(entries))
        psnr[entry.name] = movie_psnr(entry)
    _report(progress, "PSNR of the movies", len(entries), len(entries))
    write_poster(edit, paths.movie, paths.poster)
    if needs_proxy(edit):
        write_proxy(edit, paths.movie, key, progress)
    page_font = paths.page_font(FONT.name)
    if not page_font.is_file() or file_digest(page_font) != file_digest(FONT):
        copy_file_atomic(FONT, page_font)
    write_bytes_atomic(paths.html, review_html(edit, entries, thumbs, psnr).encode("utf-8"))
    return paths.files
