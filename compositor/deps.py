"""The make dependency file, ``render/deps.mk``: make's half of the books, written from the specs.

For every cut folder under ``shots/`` (listed in ``edit.toml`` or not) it holds the rules of the cut's steps,
each a real file target with the files that step reads and a one-line recipe that calls ``compositor``:

- ``render/<cut>/bg/bg.json``: ``compositor bg <cut>``;
- ``render/<cut>/comp/comp.json`` and the cut's movies, one grouped rule (``&:``, one command writes them
  all): ``compositor render <cut>``;
- ``<cut>``: a phony goal for the cut's movies;

and the screening cut's grouped rule (``compositor cut``). The commands themselves compare keys, not file
times, and do only what changed; make's file times only decide which commands to call. Every file named as
an input also gets an empty rule, so a drawing or folder that is gone stops nothing: make remakes what read
it, this file first. Cut names are letters, digits, ``_`` and ``-`` (checked before they get here); paths are
escaped for make, and a path make cannot spell is replaced by its folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from compositor.core.cels import drawings_in
from compositor.core.io import FrameSource
from compositor.errors import CompositorError
from compositor.layout import CutPaths, deps_file
from compositor.spec import Edit, Production, Shot, check_cut_name, load_edit, load_shot

_UNSPELLABLE = re.compile(r"[:%;*?\[\]\\\n\r\t\"'|=<>`]")


def _mk(path: Path, production: Production) -> str:
    """``path`` relative to the production, as make reads it (a path make cannot spell: its folder)."""
    rel = production.rel(path)
    while _UNSPELLABLE.search(rel) and rel not in ("", "."):
        rel = str(Path(rel).parent)
    return rel.replace("$", "$$").replace("#", "\\#").replace(" ", "\\ ")


def _input_files(path: Path) -> list[Path]:
    """A plate or guide: its files (every frame of a sequence)."""
    try:
        return FrameSource(path).files()
    except CompositorError:  # a broken plate is reported by the step that reads it
        return [path]


class _Rules:
    def __init__(self, production: Production):
        self.production = production
        self.lines: list[str] = []
        self.inputs: dict[str, None] = {}

    def mk(self, path: Path) -> str:
        return _mk(path, self.production)

    def rule(self, targets: list[Path], inputs: list[Path], recipe: str) -> None:
        names = list(dict.fromkeys(self.mk(x) for x in inputs))
        self.inputs.update(dict.fromkeys(n for n in names if not n.startswith("render/")))
        separator = " &:" if len(targets) > 1 else ":"
        self.lines.append(" ".join(self.mk(t) for t in targets) + separator + (" " + " ".join(names) if names else ""))
        self.lines.append(f"\t{recipe}")


def _cut_inputs(shot: Shot) -> tuple[list[Path], list[Path]]:
    """What the cut's background step reads, and what its render step reads besides the background."""
    production = shot.production
    style = [shot.style_path] if shot.style_path is not None else []
    bg_inputs = [shot.path, *style]
    for key in ("background.plate", "background.layout", "background.retouch", "temporal.guide"):
        if key in shot.files:
            bg_inputs.extend(_input_files(shot.files[key]))
    comp_inputs = [shot.path, production.edit_path, *(production.preset_path(p) for p in shot.presets)]
    for i in range(len(shot.spec.layers)):
        folder = shot.files[f"layers[{i}].cels"]
        comp_inputs.append(folder)
        try:
            comp_inputs.extend(drawings_in(folder).values())
        except CompositorError:  # reported by the render (and by validate)
            pass
    return bg_inputs, comp_inputs


def dependency_file(production: Production) -> str:
    edit: Edit = load_edit(production)
    rules = _Rules(production)
    edit_paths = edit.paths
    cuts = [c for c in production.cut_folders() if _is_cut_name(c)]
    header = [
        "# Written by `compositor deps` from the specs; do not edit (make rewrites it when a spec changes).",
        f"EDIT := {edit.edit.name}",
        f"CUTS := {' '.join(edit.edit.cuts)}",
        f"ALL_CUTS := {' '.join(cuts)}",
        f"EDIT_OUTPUTS := {' '.join(rules.mk(p) for p in edit_paths.files.values())}",
        "",
    ]
    movies: dict[str, list[Path]] = {}
    deps_inputs = [production.shots, production.edit_path, production.templates / "styles", production.templates / "encode"]
    for cut in cuts:
        paths = CutPaths(production.root, cut)
        deps_inputs.extend([production.shots / cut, production.shot_path(cut)])
        try:
            shot = load_shot(production, cut, edit)
        except CompositorError:
            # A cut whose spec is broken still gets its rules: its step runs and says what is wrong.
            bg_inputs, comp_inputs = [production.shot_path(cut)], [production.shot_path(cut), production.edit_path]
            movies[cut] = [paths.movie(edit.edit.encode, edit.edit.encode)]
        else:
            bg_inputs, comp_inputs = _cut_inputs(shot)
            movies[cut] = [shot.movie(p) for p in shot.presets]
            deps_inputs.extend(shot.files[f"layers[{i}].cels"] for i in range(len(shot.spec.layers)))
        rules.rule([paths.bg_manifest], bg_inputs, f"$(CLI) bg {cut}")
        rules.rule([*movies[cut], paths.comp_manifest], [paths.bg_manifest, *comp_inputs], f"$(CLI) render {cut} $(FARM_FLAG)")
        rules.lines.append(f".PHONY: {cut}")
        rules.lines.append(f"{cut}: {' '.join(rules.mk(m) for m in movies[cut])}")
        rules.lines.append("")
    edit_inputs = [movies[c][0] for c in edit.edit.cuts if c in movies]
    edit_inputs += [production.edit_path, production.preset_path(edit.edit.encode)]
    if edit.audio is not None:
        edit_inputs.append(edit.audio)
    rules.rule(list(edit_paths.files.values()), edit_inputs, "$(CLI) cut")
    rules.lines.append("")
    # This file is rewritten when a spec changes, a cut folder comes or goes, or a drawing is added to a layer.
    deps_names = list(dict.fromkeys(rules.mk(x) for x in deps_inputs))
    rules.inputs.update(dict.fromkeys(deps_names))
    rules.lines.append(f"{rules.mk(deps_file(production.root))}: {' '.join(deps_names)}")
    rules.lines.append("")
    rules.lines.append("# Every input named above: one that is gone stops nothing (make remakes what read it).")
    rules.lines.extend(f"{name}:" for name in rules.inputs)
    return "\n".join(header + rules.lines) + "\n"


def _is_cut_name(name: str) -> bool:
    try:
        check_cut_name(name, "shots")
    except CompositorError:
        return False
    return True
