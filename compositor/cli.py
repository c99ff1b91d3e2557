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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from compositor.errors import CompositorError, SpecError
from compositor.spec import Production, TemporalQC, TemporalSettings, check_cut_name, load_edit, load_shot

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
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    import cv2  # noqa: PLC0415
    import numpy  # noqa: PLC0415
    import pydantic  # noqa: PLC0415

    from compositor import __version__  # noqa: PLC0415
    from compositor.steps.encode import ffmpeg_summary  # noqa: PLC0415

    lines = [f"compositor {__version__}"]
    try:
        lines.append(ffmpeg_summary())
    except CompositorError as e:
        lines.append(f"ffmpeg: none ({e})")
    lines.append(f"numpy {numpy.__version__}")
    lines.append(f"opencv {cv2.__version__}")
    lines.append(f"pydantic {pydantic.__version__}")
    for package in ("imageio-ffmpeg", "Pillow"):
        try:
            lines.append(f"{package.lower()} {version(package)}")
        except PackageNotFoundError:
            pass
    return lines


def _print_version(value: bool) -> None:
    if value:
        print("\n".join(versions()))
        raise typer.Exit()


@app.callback()
def _root(
    root: Annotated[
        Path | None, typer.Option("--root", help="The production folder (default: found from here upwards).")
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print compositor's version, the ffmpeg it runs (path, version) and numpy, OpenCV, pydantic.",
        ),
    ] = False,
) -> None:
    _state["root"] = root


def production() -> Production:
    root = _state["root"]
    return Production.at(root) if root is not None else Production.find()


@contextmanager
def progress_bar(announce: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr, one line per task description; ``update(description, done, total)``.

    Off a terminal (make's log) the bar is off and, with ``announce``, each task is named once on stdout.
    """
    tasks: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    ) as bar:

        def update(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total)
                if announce and not err.is_terminal:  # in make's log (stdout: stderr stays for errors): what is being made
                    print(f"{description} ({total})", flush=True)
            bar.update(tasks[description], completed=done, total=total)

        yield update


def _default_workers() -> int:
    # Under `make -jN` make already runs cuts side by side; one process per cut then avoids oversubscription.
    flags = os.environ.get("MAKEFLAGS", "")
    if any(part.startswith("-j") or part == "j" or part.startswith("j") for part in flags.split()):
        return 1
    return min(os.cpu_count() or 1, 4)


@app.command()
def validate() -> None:
    """Check every spec of the production (edit.toml, each cut, styles, presets, cels) and report all problems."""
    from compositor.validate import validate_production  # noqa: PLC0415

    prod = production()
    problems = validate_production(prod)
    if problems:
        raise SpecError("\n".join(problems))
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
) -> None:
    """Make the cut's background: generate or read it (cached by content), retouch, temporal pass. Does nothing
    when render/<cut>/bg/ already holds what the inputs make."""
    from compositor.steps.background import ensure_background, export_background, read_qc  # noqa: PLC0415

    shot = load_shot(production(), cut)
    with progress_bar(announce=export is None) as update:  # --export prints the files it wrote
        if export is not None:
            for path in export_background(shot, export):
                print(path)
            return
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
) -> None:
    """Bring the cut up to date: its background, the frames whose inputs changed (render/<cut>/comp/), and the
    segments of its movies that hold them. A fresh cut costs a check; an interrupted render resumes."""
    from compositor.steps.composite import render_cut  # noqa: PLC0415
    from compositor.steps.encode import ffmpeg_summary  # noqa: PLC0415

    shot = load_shot(production(), cut)
    elsewhere = None
    if scheduler:
        from compositor.farm import on_cluster  # noqa: PLC0415

        elsewhere = on_cluster(scheduler)
    with progress_bar() as update:
        result = render_cut(
            shot,
            presets=[preset] if preset else None,
            progress=update,
            threads=workers if workers is not None else _default_workers(),
            composite_elsewhere=elsewhere,
        )
    summary = (
        f"{cut}: {len(result.composited)} of {shot.frames} frames composited, {result.segments} movie segments "
        f"encoded; {', '.join(shot.production.rel(m) for m in result.movies)}; {ffmpeg_summary()}"
    )
    err.print(summary)
    _write_log(shot, [summary, *(f"cpu seconds, {stage}: {seconds:.3f}" for stage, seconds in sorted(result.times.items()))])


def _write_log(shot, lines: list[str]) -> None:  # noqa: ANN001
    """``render/<cut>/<cut>.log``: the last run's lines, timings included. Timings live here and nowhere else:
    keys, manifests and QC records hold only what decides pixels, so two renders of one production agree byte
    for byte."""
    from compositor.core.io import write_bytes_atomic  # noqa: PLC0415

    write_bytes_atomic(shot.paths.log, "".join(f"{line}\n" for line in lines).encode())


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


@app.command("cut")
def screening_cut() -> None:
    """Assemble the screening cut render/<edit>.mp4 (slate, every cut in order, audio), its .otio/.edl and review
    page, bringing every cut of the edit up to date first (under make they already are: a check each)."""
    from compositor.api import render_edit  # noqa: PLC0415

    prod = production()
    with progress_bar() as update:
        outputs = render_edit(prod, update)
    for path in outputs.values():
        err.print(f"wrote {prod.rel(Path(path))}")


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

        remove_stale_temp_files(target.parent)  # render/: what a killed run was writing
    write_bytes_atomic(target, text.encode())


@app.command()
def deflicker(
    input: Annotated[str, typer.Option(help="The flickering frames: 'proc/%04d.png' or a video file.")],
    guide: Annotated[str, typer.Option(help="Frames with trustworthy motion: 'src/%04d.png' or a video file.")],
    output: Annotated[Path, typer.Option(help="Folder for the steadied frames.")],
    strength: Annotated[float, typer.Option(min=0, max=0.99, help="Weight of a neighbour per frame of distance (both sides).")] = _TEMPORAL.strength,
    flow: Annotated[str, typer.Option(help="dis_ultrafast | dis_fast | dis_medium | farneback")] = _TEMPORAL.flow,
    flow_scale: Annotated[
        float, typer.Option(min=0, max=1, help="Resize the guide for the flow (0: automatic).")
    ] = _TEMPORAL.flow_scale,
    detail: Annotated[float, typer.Option(min=0, max=1, help="0 steadies colour only, 1 all texture too.")] = _TEMPORAL.detail,
    keyframe_interval: Annotated[
        int, typer.Option(min=0, help="Restart from the input every N frames (0: never).")
    ] = _TEMPORAL.keyframe_interval,
    compress: Annotated[bool, typer.Option(help="Compress the output PNGs (--no-compress writes ~3x faster).")] = True,
    window: Annotated[int, typer.Option(min=1, help="Frames computed together (more: faster, more memory).")] = _TEMPORAL.window,
    scheduler: Annotated[
        str | None, typer.Option(help="Run the windows on this Dask cluster (tcp://host:8786); shared storage.")
    ] = None,
) -> None:
    """Make a frame-by-frame result temporally consistent, with motion from a guide video."""
    from compositor.temporal import deflicker_files  # noqa: PLC0415

    settings = TemporalSettings(
        strength=strength, flow=flow, flow_scale=flow_scale, detail=detail, keyframe_interval=keyframe_interval,
        window=window,
    )  # fmt: skip
    if scheduler is not None:
        from compositor.errors import RenderError  # noqa: PLC0415
        from compositor.farm import _distributed  # noqa: PLC0415
        from compositor.temporal.farm import deflicker_on_cluster  # noqa: PLC0415

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
    err.print(TemporalQC(**qc).summary("deflicker"))


@app.command()
def qc(
    input: Annotated[str, typer.Option(help="The original (e.g. flickering) frames.")],
    guide: Annotated[
        str | None, typer.Option(help="Frames with trustworthy motion (default: the input's own motion).")
    ] = None,
    output: Annotated[str | None, typer.Option(help="The processed frames, to compare with the input.")] = None,
    flow: Annotated[str, typer.Option(help="dis_ultrafast | dis_fast | dis_medium | farneback")] = _TEMPORAL.flow,
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
        print("interrupted: frames already written are kept; run again to resume", file=sys.stderr)
        sys.exit(130)
    except Terminated as stop:
        _tidy_after_interruption()
        word = "interrupted" if stop.signum == signal.SIGINT else "terminated"
        print(f"{word}: frames already written are kept; run again to resume", file=sys.stderr)
        sys.exit(128 + stop.signum)


def _tidy_after_interruption() -> None:
    """Whatever this process was writing when it was interrupted goes: each writer removes its own on the way
    out, and this sweeps up what a signal caught between creating a file and taking charge of it."""
    from compositor.core.io import remove_own_temp_files  # noqa: PLC0415

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not interrupt the tidying
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        prod = production()
    except CompositorError:
        return
    remove_own_temp_files(prod.render)
