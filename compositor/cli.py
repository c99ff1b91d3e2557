"""The ``compositor`` command (also ``python -m compositor``); the Makefile's recipes call it.

Exit status: 0 on success, 1 on a user error (one line a problem on stderr, no traceback), 2 on bad usage.
Real bugs keep their traceback.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from compositor.core.allocator import keep_freed_memory
from compositor.errors import CompositorError, SpecError
from compositor.reporting import RunRecord, cut_record, progress_reporter, record_run, under_parallel_make
from compositor.spec import Production, TemporalQC, TemporalSettings, check_cut_name, load_edit, load_shot
from compositor.spec.models import FLOW_METHODS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Render hand-drawn animation cuts: backgrounds, cels, camera, effects, encodes, the screening cut.",
)
err = Console(stderr=True, soft_wrap=True)
_TEMPORAL = TemporalSettings()
"""The temporal pass's defaults (one home: ``compositor.spec.models.TemporalSettings``)."""
_state: dict[str, Path | None] = {"root": None}


def versions() -> list[str]:
    """compositor's version, the ffmpeg that makes the movies (path and version) and the libraries that decide
    pixels: what to quote when two machines disagree on a frame or a movie."""
    import platform  # noqa: PLC0415
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    import cv2  # noqa: PLC0415
    import numpy  # noqa: PLC0415
    import pydantic  # noqa: PLC0415

    from compositor import __version__  # noqa: PLC0415
    from compositor.steps.encode import ffmpeg_summary  # noqa: PLC0415

    lines = [f"compositor {__version__}"]
    # The production's ffmpeg when run inside one (its [encode] ffmpeg), else the bundled one: the same rule
    # as a render's.
    named, whose = None, "bundled with imageio-ffmpeg"
    try:
        root = _state["root"]
        edit = load_edit(Production.at(root) if root is not None else Production.find())
        if edit.ffmpeg:
            named, whose = edit.ffmpeg, "named in shots/edit.toml ([encode] ffmpeg)"
    except CompositorError:
        pass
    if named is None and os.environ.get("COMPOSITOR_FFMPEG"):
        whose = "named by $COMPOSITOR_FFMPEG"
    try:
        lines.append(ffmpeg_summary(named))
        lines.append(f"ffmpeg chosen: {whose}")
    except CompositorError as e:
        lines.append(f"ffmpeg: none ({e})")
    lines.append(f"python {platform.python_version()}")
    lines.append(f"numpy {numpy.__version__}")
    lines.append(f"opencv {cv2.__version__}")
    lines.append(f"pydantic {pydantic.__version__}")
    # Read from the installed packages' metadata, never imported (torch takes seconds to import).
    for package in ("imageio-ffmpeg", "Pillow", "OpenEXR", "opencolorio", "opentimelineio", "torch", "diffusers"):
        try:
            lines.append(f"{package.lower()} {version(package)}")
        except PackageNotFoundError:
            lines.append(f"{package.lower()} (not installed)")
    return lines


def _print_version(value: bool) -> None:
    if value:
        print("\n".join(versions()))
        raise typer.Exit()


@app.callback()
def _root(
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="The production folder (default: found from here upwards).",
            # eager, so that `--root X --version` reports X's ffmpeg
            is_eager=True,
            callback=lambda value: _state.__setitem__("root", value) or value,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print compositor's version, the ffmpeg it runs (path, version) and the libraries' versions.",
        ),
    ] = False,
) -> None:
    _state["root"] = root


def production() -> Production:
    root = _state["root"]
    return Production.at(root) if root is not None else Production.find()


_activity: dict[str, str | int] = {}
"""What the command is doing now (the last progress report): what an interruption says was under way."""


@contextmanager
def progress_bar(announce: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """``update(description, done, total)``: a progress bar with frames/s and time left on a terminal of this
    command's own; whole lines on stdout in a log or beside other commands under ``make -j`` (with
    ``announce``; without it nothing, as stdout carries data). See ``compositor.reporting``."""
    with progress_reporter(err, announce) as report:

        def update(description: str, done: int, total: int) -> None:
            _activity.update(description=description, done=done, total=total)
            report(description, done, total)

        yield update


def _default_workers() -> int:
    # Under `make -jN` make already runs cuts side by side; one process per cut then avoids oversubscription.
    return 1 if under_parallel_make() else min(os.cpu_count() or 1, 4)


@app.command()
def validate() -> None:
    """Check every spec of the production (edit.toml, each cut, styles, presets, cels) and report all problems."""
    from compositor.validate import validate_production  # noqa: PLC0415

    prod = production()
    problems = validate_production(prod)
    if problems:
        raise SpecError("\n".join(problems))
    from compositor.validate import timesheet_notes  # noqa: PLC0415

    for line in timesheet_notes(prod):  # read from the XDTS sheets but not used: said, not dropped silently
        err.print(f"note: {line}", markup=False, highlight=False)
    err.print(f"ok: {len(prod.cut_folders())} cuts valid ({len(load_edit(prod).edit.cuts)} in the edit)")


@app.command()
def new(
    cut: Annotated[str, typer.Argument(help="The new cut's name, e.g. sc020_c010.")],
) -> None:
    """Make a new cut from templates/shot.toml: shots/<cut>/shot.toml, cels/ and plates/."""
    prod = production()
    check_cut_name(cut, "new")
    folder = prod.shots / cut
    if folder.exists():
        raise SpecError(f"{prod.rel(folder)}: the cut already exists")
    template = prod.templates / "shot.toml"
    if not template.is_file():
        raise SpecError(f"{prod.rel(template)}: no shot template")
    from compositor.core.io import copy_file_atomic, ensure_folder  # noqa: PLC0415

    ensure_folder(folder / "cels" / "A")
    ensure_folder(folder / "plates")
    copy_file_atomic(template, folder / "shot.toml")
    err.print(
        f"made {prod.rel(folder)}/shot.toml: `make {cut}` renders it; "
        f"add \"{cut}\" to the cuts in shots/edit.toml to put it in the screening cut"
    )


@app.command()
def bg(
    cut: str,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write the generated background here for an artist to paint over.")
    ] = None,
    variants: Annotated[
        int | None,
        typer.Option(
            "--variants",
            help="Render this many seeds (the cut's and the ones after it) and a contact sheet "
            "render/<cut>/bg/variants.png with each seed under its picture; set `seed` in the spec to pick one.",
        ),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Run the temporal pass's windows on this Dask cluster (tcp://host:8786).")
    ] = None,
) -> None:
    """Make the cut's background: generate or read it (cached by content), retouch, temporal pass. Does nothing
    when render/<cut>/bg/ already holds what the inputs make."""
    from compositor.steps.background import ensure_background, export_background, read_qc  # noqa: PLC0415

    shot = load_shot(production(), cut)
    if variants is not None:
        from compositor.steps.variants import render_variants  # noqa: PLC0415

        with progress_bar() as update:
            sheet, files = render_variants(shot, variants, update)
        err.print(f"{cut}: {len(files)} variants (seeds {min(files)}-{max(files)}) in {shot.production.rel(sheet)}")
        return
    with progress_bar(announce=export is None) as update:  # --export prints the files it wrote
        if export is not None:
            for path in export_background(shot, export):
                print(path)
            return
        if scheduler:
            from compositor.steps.background_farm import background_on_cluster  # noqa: PLC0415

            background_on_cluster(scheduler, shot, update, touch=True)
        else:
            ensure_background(shot, update, touch=True)
    record = read_qc(shot)
    if record is not None and record.temporal is not None:
        err.print(record.temporal.summary(f"{cut}: temporal pass"))


@app.command()
def render(
    cut: str,
    workers: Annotated[int | None, typer.Option(help="Frames composited at a time (default: cores, 1 under make -j).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="A Dask scheduler address (tcp://host:8786) to spread frame chunks over.")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Encode only this preset's movie (default: the edit's and the cut's own).")
    ] = None,
    frames: Annotated[
        str | None,
        typer.Option(
            "--frames",
            help="Only these frames, as on the timesheet (12-36, or 1-5,9): composited to render/<cut>/comp/, "
            "no movie; the whole render later keeps them.",
        ),
    ] = None,
) -> None:
    """Bring the cut up to date: its background, the frames whose inputs changed (render/<cut>/comp/), and the
    segments of its movies that hold them. A fresh cut costs a check; an interrupted render resumes."""
    import time  # noqa: PLC0415

    from compositor.steps.composite import render_cut  # noqa: PLC0415
    from compositor.steps.encode import ffmpeg_summary  # noqa: PLC0415

    shot = load_shot(production(), cut)
    started = time.monotonic()
    threads = workers if workers is not None else _default_workers()
    if frames is not None:
        from compositor.steps.stills import parse_frames, render_frames_on_disk  # noqa: PLC0415

        numbers = parse_frames(frames, shot)
        with progress_bar() as update:
            made = render_frames_on_disk(shot, numbers, update, threads)
        err.print(
            f"{cut}: frames {frames}: {len(made)} of {len(numbers)} composited ({len(numbers) - len(made)} were "
            f"up to date) in {shot.production.rel(shot.paths.comp_folder)}/; no movie: `compositor render {cut}` "
            "finishes the cut"
        )
        return
    elsewhere = None
    if scheduler:
        from compositor.farm import on_cluster  # noqa: PLC0415
        from compositor.steps.background_farm import background_on_cluster  # noqa: PLC0415

        elsewhere = on_cluster(scheduler)
        with progress_bar() as update:  # the background's temporal pass on the cluster too
            background_on_cluster(scheduler, shot, update)
    with progress_bar() as update:
        result = render_cut(
            shot, presets=[preset] if preset else None, progress=update, threads=threads, composite_elsewhere=elsewhere
        )
    seconds = time.monotonic() - started
    summary = (
        f"{cut}: {len(result.composited)} of {shot.frames} frames composited, {result.segments} movie segments "
        f"encoded; {', '.join(shot.production.rel(m) for m in result.movies)}; {ffmpeg_summary(shot.edit.ffmpeg)}"
    )
    err.print(summary)
    if shot.timesheet is not None:  # what the XDTS sheet says that the render does not do: said, not dropped
        from compositor.core.xdts import camerawork_lines  # noqa: PLC0415

        for line in (*shot.timesheet.notes, *camerawork_lines(shot.timesheet, shot.start)):
            err.print(f"note: {line}", markup=False, highlight=False)
    _write_log(
        shot,
        [
            summary,
            f"wall seconds: {seconds:.3f}",
            *(f"cpu seconds, {stage}: {cpu:.3f}" for stage, cpu in sorted(result.times.items())),
        ],
    )
    record = cut_record(shot, result, seconds)
    if record is not None:
        record_run(shot.paths.run_record, record)


def _write_log(shot, lines: list[str]) -> None:  # noqa: ANN001
    """``render/<cut>/<cut>.log``: the last run's lines, timings included. Timings live in the logs (this one
    and the run records of ``compositor.reporting``) and nowhere else: keys, manifests and QC records hold only
    what decides pixels, so two renders of one production agree byte for byte."""
    from compositor.core.io import write_bytes_atomic  # noqa: PLC0415

    write_bytes_atomic(shot.paths.log, "".join(f"{line}\n" for line in lines).encode())


@app.command()
def still(
    cut: str,
    frame: Annotated[int, typer.Argument(help="The frame, as on the timesheet.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The image to write (.png, .jpg, .tif); default render/<cut>/stills/."),
    ] = None,
) -> None:
    """Render one frame of a cut to an image, in memory (nothing else is written but a stale background):
    the pixels the whole render writes for that frame."""
    from compositor.steps.stills import write_still  # noqa: PLC0415

    shot = load_shot(production(), cut)
    path = write_still(shot, frame, output)
    err.print(f"wrote {shot.production.rel(path) if path.is_absolute() else path}")


@app.command()
def sheet(
    cut: str,
    every: Annotated[int | None, typer.Option(min=1, help="Show every Nth frame (default: at most 36 frames).")] = None,
    columns: Annotated[int, typer.Option(min=1, max=32, help="Thumbnails a row.")] = 6,
    width: Annotated[int, typer.Option(min=32, max=1920, help="Width of a thumbnail in pixels.")] = 320,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Default render/<cut>/<cut>.sheet.png.")] = None,
) -> None:
    """A contact sheet of the cut: every Nth frame (and the last) as thumbnails with their frame numbers. The
    frames shown are brought up to date on disk first, so the whole render keeps them."""
    from compositor.steps.stills import make_sheet  # noqa: PLC0415

    shot = load_shot(production(), cut)
    with progress_bar() as update:
        path = make_sheet(shot, every, columns, width, output, update)
    err.print(f"wrote {shot.production.rel(path) if path.is_absolute() else path}")


@app.command()
def encode(
    cut: str,
    preset: Annotated[str | None, typer.Option(help="A preset in templates/encode/ (default: the edit's).")] = None,
) -> None:
    """Encode the cut's movie in a preset (render/<cut>/<cut>.mp4 for the edit's, <cut>.<preset>.mp4 for
    another), compositing first any frame whose inputs changed."""
    from compositor.steps.composite import render_cut  # noqa: PLC0415

    shot = load_shot(production(), cut)
    name, _ = shot.preset(preset)
    with progress_bar() as update:
        result = render_cut(shot, presets=[name], progress=update, threads=_default_workers())
    err.print(f"wrote {shot.production.rel(result.movies[0])} ({result.segments} segments encoded)")


@app.command()
def xdts(
    cut: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .xdts file to write.")],
) -> None:
    """Write the cut's timings as an XDTS timesheet (CLIP STUDIO PAINT, OpenToonz, TVPaint): one cel track per
    layer, named like it, with the dialogue and camerawork of the cut's own XDTS sheet if it has one."""
    from compositor.core.io import write_bytes_atomic  # noqa: PLC0415
    from compositor.core.xdts import cut_xdts  # noqa: PLC0415

    shot = load_shot(production(), cut)
    write_bytes_atomic(output, cut_xdts(shot))
    err.print(f"wrote {output} ({len(shot.spec.layers)} tracks, {shot.frames} frames)")


@app.command("cut")
def screening_cut() -> None:
    """Assemble the screening cut render/<edit>.mp4 (slate, every cut in order, audio), its .otio/.edl and review
    page, bringing every cut of the edit up to date first (under make they already are: a check each); then a
    table of what was made (under make: since make started; otherwise since the last screening cut)."""
    import time  # noqa: PLC0415

    from compositor.api import render_edit  # noqa: PLC0415
    from compositor.reporting import made_since, run_started, summary_table  # noqa: PLC0415

    prod = production()
    the_edit = load_edit(prod)
    previous = RunRecord.read(the_edit.paths.run_record)
    started = time.monotonic()
    with progress_bar() as update:
        outputs = render_edit(prod, update)
    for path in outputs.values():
        err.print(f"wrote {prod.rel(Path(path))}")
    written = [prod.rel(Path(p)) for p in outputs.values()]
    record = RunRecord(the_edit.edit.name, time.time(), time.monotonic() - started, outputs=written)
    record_run(the_edit.paths.run_record, record)
    since = run_started() or (previous.finished if previous else 0.0)
    cuts = {name: RunRecord.read(load_shot(prod, name, the_edit).paths.run_record) for name in the_edit.edit.cuts}
    made, fresh = made_since(cuts, since)
    Console(soft_wrap=True).print(summary_table(made, record, fresh))


@app.command()
def review(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free one).", min=0, max=65535)] = 8765,
) -> None:
    """Serve the review page on localhost, where reviewers' notes are saved to render/<edit>.notes.json."""
    from compositor.errors import CorruptInputError, MissingInputError, OutputError  # noqa: PLC0415
    from compositor.steps.edit.notes import make_server, read_notes  # noqa: PLC0415

    prod = production()
    edit = load_edit(prod)
    if not edit.paths.html.is_file():
        raise MissingInputError(f"{prod.rel(edit.paths.html)}: no review page yet (run `compositor cut` first)")
    try:
        # A notes file the page cannot read would be overwritten by the first note saved: the reviewers' notes
        # in it lost. Refuse to serve until it is fixed or moved away, as the editorial exports refuse it.
        read_notes(edit.paths.notes, strict=True, display=prod.rel(edit.paths.notes))
    except CorruptInputError as e:
        raise CorruptInputError(f"{e}; fix it or move it away (the review would overwrite it)") from None
    try:
        server = make_server(edit, port)
    except OSError as e:  # a port in use (another review, another server) was an OSError traceback
        raise OutputError(
            f"review: --port {port}: cannot listen on 127.0.0.1:{port} ({e.strerror or e}); "
            "name another port, or --port 0 for any free one"
        ) from None
    err.print(
        f"review page: http://127.0.0.1:{server.server_address[1]}/{edit.paths.html.name}  "
        f"(notes go to {prod.rel(edit.paths.notes)}; Ctrl-C stops)"
    )
    try:
        server.serve_forever()
    except (KeyboardInterrupt, Terminated) as stop:
        if getattr(stop, "signum", signal.SIGINT) != signal.SIGINT:
            raise
        err.print("stopped serving the review page")  # nothing was being made: nothing to resume
    finally:
        server.server_close()


@app.command("code-key")
def code_key_command() -> None:
    """Write render/code.key, the key of the compositor code that renders, only where it changed: make runs it
    when the code is newer, so that after an upgrade every step runs again and its own keys decide what to make."""
    from compositor.core.io import write_bytes_atomic  # noqa: PLC0415
    from compositor.deps import code_key  # noqa: PLC0415
    from compositor.layout import code_key_file  # noqa: PLC0415

    target = code_key_file(production().root)
    data = (code_key() + "\n").encode()
    if not target.is_file() or target.read_bytes() != data:  # untouched otherwise: make keys on its time
        write_bytes_atomic(target, data)


@app.command()
def deps(
    output: Annotated[
        Path | None, typer.Option(help="Where to write the make dependency file (default: render/deps.mk).")
    ] = None,
) -> None:
    """Write the make dependency file from the specs (which files each step of each cut reads)."""
    from compositor.core.io import write_bytes_atomic  # noqa: PLC0415
    from compositor.deps import dependency_file  # noqa: PLC0415
    from compositor.layout import deps_file  # noqa: PLC0415

    prod = production()
    text = dependency_file(prod)
    target = deps_file(prod.root) if output is None else output if output.is_absolute() else Path.cwd() / output
    if output is None:
        from compositor.core.io import remove_stale_temp_files  # noqa: PLC0415
        from compositor.deps import record_starts_text  # noqa: PLC0415

        remove_stale_temp_files(target.parent)  # render/: what a killed run was writing
        starts = load_edit(prod).paths.record_starts
        data = record_starts_text(prod).encode()
        if not starts.is_file() or starts.read_bytes() != data:  # untouched unless a cut moved: make keys on it
            write_bytes_atomic(starts, data)
    write_bytes_atomic(target, text.encode())


def _flow_choice(value: str) -> str:
    """``--flow`` checked as the option is read: a name not on offer is bad usage (exit status 2, with the
    usage), as a value out of an option's range is, not a user error (1) from the settings built later."""
    if value not in FLOW_METHODS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FLOW_METHODS)}")
    return value


@app.command()
def deflicker(
    input: Annotated[str, typer.Option(help="The flickering frames: 'proc/%04d.png' or a video file.")],
    guide: Annotated[str, typer.Option(help="Frames with trustworthy motion: 'src/%04d.png' or a video file.")],
    output: Annotated[Path, typer.Option(help="Folder for the steadied frames.")],
    strength: Annotated[float, typer.Option(min=0, max=0.99, help="Weight of a neighbour per frame of distance (both sides).")] = _TEMPORAL.strength,
    flow: Annotated[
        str, typer.Option(callback=_flow_choice, help=" | ".join(FLOW_METHODS))
    ] = _TEMPORAL.flow,
    flow_scale: Annotated[
        float, typer.Option(min=0, max=1, help="Resize the guide for the flow (0: automatic).")
    ] = _TEMPORAL.flow_scale,
    detail: Annotated[float, typer.Option(min=0, max=1, help="0 steadies colour only, 1 all texture too.")] = _TEMPORAL.detail,
    keyframe_interval: Annotated[
        int, typer.Option(min=0, help="Restart from the input every N frames (0: never).")
    ] = _TEMPORAL.keyframe_interval,
    margin: Annotated[
        int, typer.Option(min=0, max=8, help="Flow pixels taken off the edges of what the occlusion test trusts.")
    ] = _TEMPORAL.margin,
    compress: Annotated[bool, typer.Option(help="Compress the output PNGs (--no-compress writes ~3x faster).")] = True,
    window: Annotated[int, typer.Option(min=1, help="Frames computed together (more: faster, more memory).")] = _TEMPORAL.window,
    scheduler: Annotated[
        str | None, typer.Option(help="Run the windows on this Dask cluster (tcp://host:8786); shared storage.")
    ] = None,
) -> None:
    """Make a frame-by-frame result temporally consistent, with motion from a guide video."""
    from compositor.temporal import deflicker_files  # noqa: PLC0415
    from compositor.temporal.files import frame_spans  # noqa: PLC0415

    settings = TemporalSettings(
        strength=strength, flow=flow, flow_scale=flow_scale, detail=detail, keyframe_interval=keyframe_interval,
        window=window, margin=margin,
    )  # fmt: skip
    if scheduler is not None:
        from compositor.errors import RenderError  # noqa: PLC0415
        from compositor.farm import _distributed, check_address  # noqa: PLC0415
        from compositor.temporal.farm import deflicker_on_cluster  # noqa: PLC0415

        check_address(scheduler)
        try:
            client = _distributed().Client(scheduler, timeout="20s", set_as_default=False)
        except OSError as e:
            raise RenderError(f"{scheduler}: cannot reach the Dask scheduler ({e})") from None
        with client:
            done = deflicker_on_cluster(client, input, guide, output, settings)
        print(json.dumps({"frames": done, "output": str(output), "scheduler": scheduler}, indent=2))
        return
    with progress_bar(announce=False) as update:  # stdout carries the JSON
        qc = deflicker_files(
            input, guide, output, settings, lambda done, total: update("deflicker", done, total), compress=compress
        )
    print(json.dumps(qc, indent=2))
    kept, made = qc["kept"], qc["made"]
    if kept:  # an earlier run with the same frames and settings made them (an interrupted one, resumed now)
        # Named by the frames' numbers as their files spell them (0011.png is 11), not by their places.
        total = kept + qc["frames"]
        remade = {n for first, last in made for n in range(first, last + 1)}
        spans = frame_spans([n for n in range(qc["first"], qc["first"] + total) if n not in remade])
        what = f"frames {_frame_spans(spans)}" if made else f"all {total} frames (`compositor qc` measures them)"
        err.print(f"deflicker: kept {what}, made by an earlier run from the same frames and settings")
    if made:
        err.print(TemporalQC(**qc).summary(f"deflicker, frames {_frame_spans(made)}" if kept else "deflicker"))
    if qc["removed"]:  # said, not done silently: an earlier run's frames are gone from the folder
        err.print(
            f"deflicker: removed frames {_frame_spans(qc['removed'])} of {output}, which an earlier, longer run "
            f"wrote past this run's last frame ({qc['first'] + kept + qc['frames'] - 1})"
        )


def _frame_spans(spans: list[list[int]]) -> str:
    """``[[1, 8], [17, 17]]`` as ``1-8, 17``."""
    return ", ".join(f"{first}-{last}" if last > first else f"{first}" for first, last in spans)


@app.command()
def qc(
    input: Annotated[str, typer.Option(help="The original (e.g. flickering) frames.")],
    guide: Annotated[
        str | None, typer.Option(help="Frames with trustworthy motion (default: the input's own motion).")
    ] = None,
    output: Annotated[str | None, typer.Option(help="The processed frames, to compare with the input.")] = None,
    flow: Annotated[
        str, typer.Option(callback=_flow_choice, help=" | ".join(FLOW_METHODS))
    ] = _TEMPORAL.flow,
    flow_scale: Annotated[float, typer.Option(min=0, max=1)] = _TEMPORAL.flow_scale,
) -> None:
    """Report the warping error E_warp (and PSNR against the input when --output is given)."""
    from compositor.temporal import qc_files  # noqa: PLC0415

    print(json.dumps(qc_files(input, guide, output, flow=flow, flow_scale=flow_scale), indent=2))


def _environment_error(e: OSError) -> str | None:
    """One line for an ``OSError`` of the machine (a full disk, a permission, a read-only file system) that
    reached here without a `CompositorError` around it; None for anything else (a bug: it keeps its traceback)."""
    from compositor.core.io import ENVIRONMENT_ERRNOS, explain, shown  # noqa: PLC0415

    if e.errno not in ENVIRONMENT_ERRNOS or e.filename is None:
        return None
    path = Path(os.fsdecode(e.filename))
    if e.errno in (errno.EACCES, errno.EPERM):  # reading or writing: it cannot tell which
        return f"{shown(path)}: {e.strerror} (check the permissions of the file and its folder)"
    return f"{shown(path)}: {explain(path, e)}"


class Terminated(BaseException):
    """SIGTERM (a killed make, a CI timeout) or SIGINT (Ctrl-C): the command unwinds, so that what it was
    writing is removed (every writer cleans up on any ``BaseException``). Not a ``KeyboardInterrupt``: typer
    would swallow that, silently."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def main() -> None:
    keep_freed_memory()  # frame-sized buffers reused, not faulted in again each frame (see the module)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
        signal.signal(signal.SIGINT, _terminate)
    try:
        app()
    except CompositorError as e:
        for line in str(e).splitlines() or [type(e).__name__]:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        line = _environment_error(e)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        _tidy_after_interruption()
        print(interruption_message("interrupted"), file=sys.stderr)
        sys.exit(130)
    except Terminated as stop:
        _tidy_after_interruption()
        word = "interrupted" if stop.signum == signal.SIGINT else "terminated"
        print(interruption_message(word), file=sys.stderr)
        sys.exit(128 + stop.signum)


def interruption_message(word: str) -> str:
    """One line: what was under way, that finished work is kept, and the command that resumes."""
    import shlex  # noqa: PLC0415

    doing = ""
    if _activity:
        doing = f" during {_activity['description']} ({_activity['done']}/{_activity['total']})"
    again = "make" if "MAKELEVEL" in os.environ else shlex.join(["compositor", *sys.argv[1:]])
    kept = "every frame and movie segment already finished is kept (nothing half-written is)"
    if _activity.get("description") == "deflicker":  # it keeps whole windows: a half-done one's frames go again
        kept = "every window of frames already finished is kept (the frames of one half done are made again)"
    return f"{word}{doing}: {kept}; `{again}` resumes from there"


def _tidy_after_interruption() -> None:
    """Whatever this process was writing when it was interrupted goes: each writer removes its own on the way
    out, and this sweeps up what a signal caught between creating a file and taking charge of it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not interrupt the tidying
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from compositor.core.io import remove_own_temp_files  # noqa: PLC0415
    except Exception:  # noqa: BLE001 (Ctrl-C during the start-up imports left OpenCV half-imported, so
        return  # the I/O module cannot load: none of its writers ran, and there is nothing to sweep)
    try:
        prod = production()
    except CompositorError:
        return
    remove_own_temp_files(prod.render)
