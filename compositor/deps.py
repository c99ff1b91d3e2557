"""The make dependency file: which files each cut's steps read, written from the specs.

The Makefile includes ``render/deps.mk``; its pattern rules hold the recipes, this file only the prerequisites,
so a changed cel, plate, spec, style or preset re-runs exactly the steps that read it.
"""

from __future__ import annotations

from pathlib import Path

from compositor.core.cels import drawings_in
from compositor.core.io import FrameSource
from compositor.spec import Edit, Production, Shot, load_edit, load_shot


def _mk(path: Path, production: Production) -> str:
    rel = production.rel(path)
    return rel.replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")


def _input_files(path: Path) -> list[Path]:
    """A plate or guide: its files (every frame of a sequence)."""
    try:
        return FrameSource(path).files()
    except Exception:  # noqa: BLE001 - a broken plate is reported by the render, not by the dependency scan
        return [path]


def shot_rules(shot: Shot, preset: Path) -> list[str]:
    p = shot.production
    out = p.render / shot.name
    style = [shot.style_path] if shot.style else []
    bg_inputs = [shot.path, *style]
    for key in ("background.plate", "background.layout", "background.retouch", "temporal.guide"):
        if key in shot.files:
            bg_inputs.extend(_input_files(shot.files[key]))
    comp_inputs = [out / "bg" / "bg.json", shot.path, *style]
    for i in range(len(shot.spec.layers)):
        folder = shot.files[f"layers[{i}].cels"]
        comp_inputs.append(folder)
        comp_inputs.extend(drawings_in(folder).values())
    encode_inputs = [out / "comp" / "comp.json", preset]

    def rule(target: Path, inputs: list[Path]) -> str:
        unique = list(dict.fromkeys(_mk(x, p) for x in inputs))
        return f"{_mk(target, p)}: " + " ".join(unique)

    movie = out / f"{shot.name}.mp4"
    return [
        rule(out / "bg" / "bg.json", bg_inputs),
        rule(out / "comp" / "comp.json", comp_inputs),
        rule(movie, encode_inputs),
        f".PHONY: {shot.name}",
        f"{shot.name}: {_mk(movie, p)}",
    ]


def dependency_file(production: Production) -> str:
    edit: Edit = load_edit(production)
    name = edit.edit.name
    lines = [
        "# Written by `compositor deps` from the specs; do not edit (make rewrites it when a spec changes).",
        f"EDIT := {name}",
        f"CUTS := {' '.join(edit.edit.cuts)}",
    ]
    spec_files = [edit.path]
    cel_folders: list[Path] = []
    movies = []
    for cut in edit.edit.cuts:
        shot = load_shot(production, cut, edit)
        preset = production.preset_path(shot.spec.encode or edit.edit.encode)
        lines.append("")
        lines.extend(shot_rules(shot, preset))
        spec_files.append(shot.path)
        cel_folders.extend(shot.files[f"layers[{i}].cels"] for i in range(len(shot.spec.layers)))
        movies.append(shot.out / f"{cut}.mp4")
    edit_inputs = [*movies, edit.path, production.preset_path(edit.edit.encode)]
    if edit.audio:
        edit_inputs.append(edit.audio)
    lines.append("")
    lines.append(f"{_mk(production.render / (name + '.mp4'), production)}: " + " ".join(_mk(x, production) for x in edit_inputs))
    # The dependency file itself is rewritten when a spec changes or a drawing is added to a layer folder.
    lines.append("")
    deps_inputs = list(dict.fromkeys(_mk(x, production) for x in [*spec_files, *cel_folders]))
    lines.append(f"render/deps.mk: {' '.join(deps_inputs)}")
    return "\n".join(lines) + "\n"
