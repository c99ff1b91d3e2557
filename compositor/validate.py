"""`compositor validate`: every problem in every file of the production, one line each, before anything renders.

The edit, every cut folder under ``shots/`` (listed in the edit or not: each is a make target), every style
and encode preset in ``templates/``, and each cut's inputs: every drawing its timesheet names has a file that
decodes, a plate (and a temporal guide) opens and has frames enough for the cut, a retouch paint-over decodes
at the canvas's size, a diffusion layout decodes (and so do its inpaint masks, at the canvas's size, and its style
reference). Validation refuses what a render would refuse, in the words
the render would use (the same functions say them).
"""

from __future__ import annotations

from collections.abc import Callable

from compositor.core.cels import check_drawings, check_layers
from compositor.core.io import FrameSource, check_input_image
from compositor.core.photography.finish import check_mattes
from compositor.core.xdts import camerawork_lines
from compositor.errors import CompositorError
from compositor.spec import (
    Edit,
    Production,
    Shot,
    check_cut_name,
    load_edit,
    load_preset,
    load_shot,
    load_style,
)


def _lines(error: CompositorError) -> list[str]:
    return str(error).splitlines()


def _check_plate(shot: Shot) -> None:
    from compositor.backgrounds import plate  # noqa: PLC0415

    count = plate.frame_count(shot)  # opens it; too few frames for the cut: the render's line
    FrameSource(
        shot.files["background.plate"],
        f"{shot.display}: background.plate",
        shot.production.rel,
        hold_missing=shot.spec.background.hold_missing,
    ).check(count)


def _check_diffusion_sources(shot: Shot) -> None:
    bg = shot.spec.background
    path = shot.files.get("background.layout")
    if bg.layout and path is not None and not bg.per_frame:
        check_input_image(path, f"{shot.display}: background.layout", shot.production.rel(path))
    if bg.per_frame:
        from compositor.backgrounds.diffusion.plan import _plate_source  # noqa: PLC0415

        _plate_source(shot, 0)  # opens the plate; a still or too few frames: the render's line


def _check_diffusion_passes(shot: Shot) -> None:
    """Each inpaint mask decodes at the canvas's size and is not empty; a style reference's picture decodes and its
    IP-Adapter folder holds what the render loads (the render's words, from the same functions)."""
    from compositor.backgrounds.diffusion import passes  # noqa: PLC0415

    bg = shot.spec.background
    for i in range(len(bg.inpaint)):
        passes.mask_weight(shot, i)
    path = shot.files.get("background.reference.image")
    if bg.reference is not None and path is not None:
        check_input_image(path, f"{shot.display}: background.reference.image", shot.production.rel(path))
        passes.reference_weights(shot)


def _check_guide(shot: Shot) -> None:
    from compositor.backgrounds import backend  # noqa: PLC0415
    from compositor.steps.background import _guide_path, _steadied  # noqa: PLC0415

    if not _steadied(shot):
        return
    canvases = backend(shot.spec.background.source).frame_count(shot)
    if canvases <= 1:
        return  # nothing to steady: the render reads no guide
    path, key = _guide_path(shot)
    if path is None:
        return  # the render says so when it gets there (it needs the backend's frames first)
    source = FrameSource(path, f"{shot.display}: {key}", shot.production.rel, hold_missing=shot.spec.background.hold_missing)
    if not source.still and len(source) < canvases:  # a still image: a locked-off camera, every frame
        from compositor.errors import SpecError  # noqa: PLC0415

        raise SpecError(f"{shot.display}: {key}: {len(source)} frames, but the background has {canvases}")
    if key != "background.plate":  # the plate itself is checked already
        source.check(canvases)


def _check_retouch(shot: Shot) -> None:
    from compositor.steps.background import load_retouch  # noqa: PLC0415

    load_retouch(shot)  # decodes at the canvas's size, or the render's line


def cut_problems(shot: Shot) -> list[str]:
    """Every problem with the inputs of one cut that a render would meet, one line each."""
    problems: list[str] = []
    from compositor.steps.edit.plan import check_fits_edit  # noqa: PLC0415

    checks: list[Callable[[Shot], None]] = [check_fits_edit, check_layers, check_drawings, check_mattes]
    source = shot.spec.background.source
    if source == "plate":
        checks.append(_check_plate)
    elif source == "diffusion":
        checks += [_check_diffusion_sources, _check_diffusion_passes]
    checks += [_check_guide, _check_retouch]
    for check in checks:
        try:
            check(shot)
        except CompositorError as e:
            problems.extend(_lines(e))
    return problems


def validate_production(production: Production) -> list[str]:
    """Every problem in the production, one line each (empty when all is well)."""
    problems: list[str] = []
    edit: Edit | None = None
    try:
        edit = load_edit(production)
    except CompositorError as e:
        problems.extend(_lines(e))
        try:  # only its list of cuts is wrong (a cut not made yet, a misspelt one): the cut folders are checked
            edit = load_edit(production, check_cuts=False)
        except CompositorError:
            pass
    for name in production.style_names():
        try:
            load_style(production, name, "templates/styles", name)
        except CompositorError as e:
            problems.extend(_lines(e))
    for name in production.preset_names():
        try:
            load_preset(production, name)
        except CompositorError as e:
            problems.extend(_lines(e))
    if edit is None:
        return list(dict.fromkeys(problems))
    try:
        from compositor.steps.encode import check_ffmpeg  # noqa: PLC0415

        check_ffmpeg(edit.ffmpeg, edit.display)  # runs `-version`: a program that is not ffmpeg, said now
    except CompositorError as e:
        problems.extend(_lines(e))
    try:
        from compositor.steps.edit.editorial import edit_audio  # noqa: PLC0415 (OpenTimelineIO: only here)

        edit_audio(edit)
    except CompositorError as e:
        problems.extend(_lines(e))
    for cut in production.cut_folders():
        try:
            # A folder make and the command line cannot name: renamed, it renders; the other cuts render anyway.
            check_cut_name(cut, "shots/")
            shot = load_shot(production, cut, edit)
        except CompositorError as e:
            problems.extend(_lines(e))
            continue
        problems.extend(cut_problems(shot))
    return list(dict.fromkeys(problems))


def timesheet_notes(production: Production) -> list[str]:
    """What the cuts' XDTS sheets hold that compositor does not use (camerawork, extra time tables), one line
    each: reported by ``compositor validate``, never dropped silently."""
    notes: list[str] = []
    edit = load_edit(production)
    for cut in production.cut_folders():
        try:
            shot = load_shot(production, cut, edit)
        except CompositorError:
            continue  # reported as a problem
        if shot.timesheet is not None:
            notes.extend(shot.timesheet.notes)
            notes.extend(camerawork_lines(shot.timesheet, shot.start))
    return notes
