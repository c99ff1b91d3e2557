"""The ``compositor`` command (also ``python -m compositor``); the Makefile's recipes call it.

Exit status: 0 on success, 1 on a user error (one line a problem on stderr, no traceback), 2 on bad usage.
Real bugs keep their traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from compositor.errors import CompositorError, SpecError
from compositor.spec import Production, load_edit, load_shot, validate_production

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Render hand-drawn animation cuts: backgrounds, cels, camera, effects, encodes, the screening cut.",
)
err = Console(stderr=True)
_state: dict[str, Path | None] = {"root": None}


@app.callback()
def _root(
    root: Annotated[
        Path | None, typer.Option("--root", help="The production folder (default: found from here upwards).")
    ] = None,
) -> None:
    _state["root"] = root


def production() -> Production:
    root = _state["root"]
    if root is not None:
        if not (root / "shots" / "edit.toml").is_file():
            raise SpecError(f"{root}: not a production (no shots/edit.toml)")
        return Production(root.resolve())
    return Production.find()


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
    prod = production()
    problems = validate_production(prod)
    if problems:
        raise SpecError("\n".join(problems))
    cuts = load_edit(prod).edit.cuts
    err.print(f"ok: {len(cuts)} cuts valid")


@app.command()
def new(
    cut: Annotated[str, typer.Argument(help="The new cut's name, e.g. sc020_c010.")],
) -> None:
    """Make a new cut from templates/shot.toml: shots/<cut>/shot.toml, cels/ and plates/."""
    import re  # noqa: PLC0415

    prod = production()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", cut):
        raise SpecError(f"{cut!r}: a cut name may hold letters, digits, '_', '-' and '.' only")
    folder = prod.shots / cut
    if folder.exists():
        raise SpecError(f"{prod.rel(folder)}: the cut already exists")
    template = prod.templates / "shot.toml"
    if not template.is_file():
        raise SpecError(f"{prod.rel(template)}: no shot template")
    (folder / "cels" / "A").mkdir(parents=True)
    (folder / "plates").mkdir()
    shutil.copyfile(template, folder / "shot.toml")
    err.print(f"made {prod.rel(folder)}/shot.toml; add \"{cut}\" to the cuts in shots/edit.toml to put it in the edit")


@app.command()
def bg(
    cut: str,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write the generated background here for an artist to paint over.")
    ] = None,
) -> None:
    """Make the cut's background: generate or read it (cached by content), retouch, temporal pass."""
    from compositor.backgrounds import build_background, export_background  # noqa: PLC0415

    prod = production()
    shot = load_shot(prod, cut)
    with progress_bar(announce=export is None) as update:  # --export prints the files it wrote
        if export is not None:
            for path in export_background(shot, export):
                print(path)
            return
        build_background(shot, update)
    qc = shot.out / "qc.json"
    if shot.spec.temporal is not None and qc.is_file():
        err.print(_qc_line(f"{cut}: temporal pass", json.loads(qc.read_text())["temporal"]))


@app.command()
def render(
    cut: str,
    workers: Annotated[int | None, typer.Option(help="Frames composited at a time (default: cores, 1 under make -j).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="A Dask scheduler address (tcp://host:8786) to spread frame chunks over.")
    ] = None,
) -> None:
    """Composite the cut's frames into render/<cut>/comp/ and encode render/<cut>/<cut>.mp4 as they come
    (resumes an interrupted render: frames already made from the same inputs are kept)."""
    from compositor.backgrounds import BG_MANIFEST, bg_folder, build_background  # noqa: PLC0415
    from compositor.steps.composite import render_and_encode  # noqa: PLC0415

    prod = production()
    shot = load_shot(prod, cut)
    with progress_bar() as update:
        if not (bg_folder(shot) / BG_MANIFEST).is_file():
            build_background(shot, update)
        if scheduler:
            from compositor.farm import render_on_cluster  # noqa: PLC0415

            render_on_cluster(shot, scheduler, update)
        else:
            # One pass: each frame goes to its PNG and straight into the encoder, so `compositor encode` (and
            # make's encode step, which sees a movie newer than comp.json) need not read the frames back.
            render_and_encode(shot, progress=update, threads=workers if workers is not None else _default_workers())


@app.command()
def encode(
    cut: str,
    preset: Annotated[str | None, typer.Option(help="A preset in templates/encode/ (default: the cut's or the edit's).")] = None,
    force: Annotated[bool, typer.Option(help="Encode even if the movie is newer than the frames and the preset.")] = False,
) -> None:
    """Encode the cut's frames to render/<cut>/<cut>.mp4 with ffmpeg."""
    from compositor.steps.composite import comp_folder  # noqa: PLC0415
    from compositor.steps.encode import cut_movie, encode_cut, preset_for  # noqa: PLC0415

    prod = production()
    shot = load_shot(prod, cut)
    movie, frames = cut_movie(shot), comp_folder(shot) / "comp.json"
    preset_file = prod.preset_path(preset_for(shot, preset)[0])
    # `compositor render` already pipes the frames into the encoder; make, which read the movie's date before
    # the render ran, still calls this step: the movie is then newer than both of its inputs.
    if not force and preset is None and movie.is_file() and frames.is_file():
        newest_input = max(frames.stat().st_mtime_ns, preset_file.stat().st_mtime_ns)
        if movie.stat().st_mtime_ns > newest_input:
            err.print(f"{prod.rel(movie)} is up to date")
            return
    with progress_bar() as update:
        path = encode_cut(shot, preset, update)
    err.print(f"wrote {prod.rel(path)}")


@app.command("cut")
def screening_cut() -> None:
    """Assemble the screening cut render/<edit>.mp4 (slate, every cut in order, audio) and its .otio/.edl."""
    from compositor.steps.edit import build_edit  # noqa: PLC0415

    prod = production()
    edit = load_edit(prod)
    with progress_bar() as update:
        outputs = build_edit(edit, update)
    for path in outputs.values():
        err.print(f"wrote {prod.rel(Path(path))}")


@app.command()
def deps(
    output: Annotated[Path, typer.Option(help="Where to write the make dependency file.")] = Path("render/deps.mk"),
) -> None:
    """Write the make dependency file from the specs (which files each step of each cut reads)."""
    from compositor.deps import dependency_file  # noqa: PLC0415
    from compositor.core.io import write_bytes_atomic  # noqa: PLC0415

    prod = production()
    text = dependency_file(prod)
    target = output if output.is_absolute() else Path.cwd() / output
    write_bytes_atomic(target, text.encode())


@app.command()
def deflicker(
    input: Annotated[str, typer.Option(help="The flickering frames: 'proc/%04d.png' or a video file.")],
    guide: Annotated[str, typer.Option(help="Frames with trustworthy motion: 'src/%04d.png' or a video file.")],
    output: Annotated[Path, typer.Option(help="Folder for the steadied frames.")],
    strength: Annotated[float, typer.Option(min=0, max=0.99, help="Weight of the warped previous output.")] = 0.8,
    flow: Annotated[str, typer.Option(help="dis_ultrafast | dis_fast | dis_medium | farneback")] = "dis_fast",
    flow_scale: Annotated[float, typer.Option(min=0, max=1, help="Resize the guide for the flow (0: automatic).")] = 0.0,
    detail: Annotated[float, typer.Option(min=0, max=1, help="0 steadies colour only, 1 all texture too.")] = 0.85,
    keyframe_interval: Annotated[int, typer.Option(min=0, help="Restart from the input every N frames (0: never).")] = 0,
    compress: Annotated[bool, typer.Option(help="Compress the output PNGs (--no-compress writes ~3x faster).")] = True,
) -> None:
    """Make a frame-by-frame result temporally consistent, with motion from a guide video."""
    from compositor.temporal import TemporalSettings, deflicker_files  # noqa: PLC0415

    settings = TemporalSettings(
        strength=strength, flow=flow, flow_scale=flow_scale, detail=detail, keyframe_interval=keyframe_interval
    )
    with progress_bar(announce=False) as update:  # stdout carries the JSON
        qc = deflicker_files(
            input, guide, output, settings, lambda done, total: update("deflicker", done, total), compress=compress
        )
    print(json.dumps(qc, indent=2))
    err.print(_qc_line("deflicker", qc))


@app.command()
def qc(
    input: Annotated[str, typer.Option(help="The original (e.g. flickering) frames.")],
    guide: Annotated[
        str | None, typer.Option(help="Frames with trustworthy motion (default: the input's own motion).")
    ] = None,
    output: Annotated[str | None, typer.Option(help="The processed frames, to compare with the input.")] = None,
    flow: Annotated[str, typer.Option(help="dis_ultrafast | dis_fast | dis_medium | farneback")] = "dis_fast",
    flow_scale: Annotated[float, typer.Option(min=0, max=1)] = 0.0,
) -> None:
    """Report the warping error E_warp (and PSNR against the input when --output is given)."""
    from compositor.temporal import qc_files  # noqa: PLC0415

    print(json.dumps(qc_files(input, guide, output, flow=flow, flow_scale=flow_scale), indent=2))


def _qc_line(what: str, qc: dict) -> str:
    def number(key: str, fmt: str) -> str:
        value = qc.get(key)
        return "n/a" if value is None else format(value, fmt)

    return (
        f"{what}: E_warp {number('e_warp_before', '.5f')} → {number('e_warp_after', '.5f')}, "
        f"PSNR {number('psnr', '.2f')} dB"
    )


def main() -> None:
    try:
        app()
    except CompositorError as e:
        for line in str(e).splitlines() or [type(e).__name__]:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: frames already written are kept; run again to resume", file=sys.stderr)
        sys.exit(130)
