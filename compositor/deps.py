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
it, this file first.

Nothing a user wrote reaches make's syntax or a shell unescaped. Cut names are letters, digits, ``_`` and
``-`` (checked before they get here: a folder under ``shots/`` with any other name gets no rules, and
``compositor validate`` reports it); they are the only user-written words in a recipe. Paths are written
relative to the production, lexically (``render/`` may be a link to another disk), with ``$``, ``#`` and
spaces escaped. A path make cannot spell at all (``:``, ``%``, ``;``, ``=``, ``|``, wildcards, quotes,
backslashes, control characters, a final ``(...)``) is named through a link
``render/deps-links/<hash>`` to it, made here: make reads the file's time through the link, so editing
the file in place re-runs its cut, and a link left dangling (the file gone) counts as changed. Where links
cannot be made (a file system without them) the nearest folder make can spell stands in: then renaming,
adding or removing the file re-runs its cut, but editing it in place is not seen (the commands, run by hand,
still see it: they compare keys).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from compositor.core.cels import drawings_in
from compositor.core.digest import content_key, file_digest
from compositor.core.io import FrameSource, temp_name
from compositor.errors import CompositorError
from compositor.layout import CutPaths, code_key_file, deps_file, deps_links
from compositor.spec import Edit, Production, Shot, check_cut_name, load_edit, load_shot

_UNSPELLABLE = re.compile(r"[:%;*?\[\]\\\"'|=<>`]|\(.*\)$")
"""What make cannot spell in a rule, escaped or not (besides characters that are not printable): target
separators, patterns, recipe and variable syntax, wildcards, and an archive member ``lib(member)``."""


def spellable(rel: str) -> bool:
    """Whether make can name the file ``rel`` in a rule once ``$``, ``#`` and spaces are escaped."""
    return rel.isprintable() and _UNSPELLABLE.search(rel) is None


def escape(rel: str) -> str:
    """A spellable path as a word of a make rule."""
    return rel.replace("$", "$$").replace("#", "\\#").replace(" ", "\\ ")


def _input_files(path: Path, hold_missing: bool) -> list[Path]:
    """A plate or guide: its files (every frame of a sequence)."""
    try:
        return FrameSource(path, hold_missing=hold_missing).files()
    except CompositorError:  # a broken plate is reported by the step that reads it
        return [path]


class _Rules:
    def __init__(self, production: Production):
        self.production = production
        self.lines: list[str] = []
        self.inputs: dict[str, None] = {}
        self.links: dict[str, None] = {}

    def mk(self, path: Path) -> str:
        """``path`` relative to the production, as make reads it (see the module's docstring)."""
        rel = self.production.rel(path)
        if spellable(rel):
            return escape(rel)
        link = self._link(path)
        if link is not None:
            self.links[link] = None
            return link
        while not spellable(rel) and rel not in ("", ".", "/"):
            rel = os.path.dirname(rel)
        return escape(rel) if spellable(rel) else "."

    def _link(self, path: Path) -> str | None:
        """A link under render/deps-links/ to ``path`` (its name: a hash of the path); None where the file system
        has no links."""
        target = os.path.abspath(path)
        link = deps_links(self.production.root) / hashlib.sha256(os.fsencode(target)).hexdigest()[:24]
        try:
            if not (link.is_symlink() and os.readlink(link) == target):
                link.parent.mkdir(parents=True, exist_ok=True)
                tmp = temp_name(link)
                os.symlink(target, tmp)
                os.replace(tmp, link)
        except OSError:
            return None
        return self.production.rel(link)

    def forget_other_links(self) -> None:
        """Remove the links no rule names any more (their file was renamed or is gone)."""
        folder = deps_links(self.production.root)
        if folder.is_dir():
            for link in folder.iterdir():
                if self.production.rel(link) not in self.links:
                    link.unlink(missing_ok=True)

    def rule(self, targets: list[Path], inputs: list[Path], recipe: str) -> None:
        names = list(dict.fromkeys(self.mk(x) for x in inputs))
        self.inputs.update(dict.fromkeys(n for n in names if not n.startswith("render/") or n in self.links))
        separator = " &:" if len(targets) > 1 else ":"
        self.lines.append(" ".join(self.mk(t) for t in targets) + separator + (" " + " ".join(names) if names else ""))
        self.lines.append(f"\t{recipe}")


def _cut_inputs(shot: Shot) -> tuple[list[Path], list[Path]]:
    """What the cut's background step reads, and what its render step reads besides the background."""
    production = shot.production
    style = [shot.style_path] if shot.style_path is not None else []
    bg_inputs = [shot.path, *style]
    passes = [k for k in shot.files if k.startswith(("background.inpaint[", "background.reference."))]
    for key in ("background.plate", "background.layout", "background.retouch", "temporal.guide", *passes):
        if key in shot.files:
            bg_inputs.extend(_input_files(shot.files[key], shot.spec.background.hold_missing))
    config = shot.edit.ocio_config
    if shot.spec.background.plate_colourspace and config and not config.startswith("ocio://"):
        bg_inputs.extend([production.edit_path, Path(config)])  # the plate's colour conversion
    if shot.spec.background.source == "diffusion":  # a checkpoint file, LoRA files (no torch imported)
        from compositor.backgrounds.diffusion.models import weight_files  # noqa: PLC0415

        bg_inputs.extend(weight_files(shot))
    comp_inputs = [shot.path, production.edit_path, *(production.preset_path(p) for p in shot.presets)]
    if "timesheet" in shot.files:
        comp_inputs.append(shot.files["timesheet"])  # the XDTS sheet that times its layers
    if shot.name in shot.edit.edit.cuts and any(p.burn_in and p.burn_in_timecode for p in shot.presets.values()):
        # The record timecode burnt in counts the frames of the cuts before this one: their lengths, as
        # render/<edit>.starts holds them (rewritten only when a cut moves, not when any spec is edited).
        comp_inputs.append(shot.edit.paths.record_starts)
    for i in range(len(shot.spec.layers)):
        folder = shot.files[f"layers[{i}].cels"]
        comp_inputs.append(folder)
        try:
            comp_inputs.extend(drawings_in(folder).values())
        except CompositorError:  # reported by the render (and by validate)
            pass
    for folder in tone_folders(shot):  # shade mattes and fill colour keys: drawings the render reads too
        comp_inputs.append(folder)
        try:
            comp_inputs.extend(drawings_in(folder).values())
        except CompositorError:
            pass
    return bg_inputs, comp_inputs


def tone_folders(shot: Shot) -> list[Path]:
    """The folders of drawings a cut's light and tone read: shade mattes, fill colour keys."""
    return [p for k, p in shot.files.items() if k.startswith("layers[") and k.endswith((".cels", ".key"))
            and re.search(r"\.(shade\[\d+\]\.cels|fill\.key)$", k)]


def dependency_file(production: Production) -> str:
    """The text of ``render/deps.mk``; makes (and prunes) the links of ``render/deps-links/`` it names."""
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
    sheets: list[Path] = []
    deps_inputs = [
        production.shots, production.edit_path, production.templates / "styles", production.templates / "encode",
        edit_paths.record_starts,
    ]
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
            if "timesheet" in shot.files and cut in edit.edit.cuts:
                sheets.append(shot.files["timesheet"])  # its dialogue: markers in the OTIO and the review page
            deps_inputs.extend(shot.files[f"layers[{i}].cels"] for i in range(len(shot.spec.layers)))
            deps_inputs.extend(tone_folders(shot))
        # FARM=: the background's temporal pass runs on the cluster too (nothing after the cut without one)
        code = code_key_file(production.root)  # a new compositor: each step runs and its keys decide
        rules.rule([paths.bg_manifest], [*bg_inputs, code], f"$(CLI) bg {cut} $(FARM_FLAG)")
        rules.rule([*movies[cut], paths.comp_manifest], [paths.bg_manifest, *comp_inputs, code], f"$(CLI) render {cut} $(FARM_FLAG)")
        rules.lines.append(f".PHONY: {cut}")
        rules.lines.append(f"{cut}: {' '.join(rules.mk(m) for m in movies[cut])}")
        rules.lines.append("")
    edit_inputs = [movies[c][0] for c in edit.edit.cuts if c in movies]
    edit_inputs += [production.edit_path, production.preset_path(edit.edit.encode)]
    if edit.audio is not None:
        edit_inputs.append(edit.audio)
    edit_inputs += [*sheets, code_key_file(production.root)]
    rules.rule(list(edit_paths.files.values()), edit_inputs, "$(CLI) cut")
    rules.lines.append("")
    # This file is rewritten when a spec changes, a cut folder comes or goes, or a drawing is added to a layer.
    deps_names = list(dict.fromkeys(rules.mk(x) for x in deps_inputs))
    rules.inputs.update(dict.fromkeys(deps_names))
    rules.lines.append(f"{rules.mk(deps_file(production.root))}: {' '.join(deps_names)}")
    rules.lines.append("")
    rules.lines.append("# Every input named above: one that is gone stops nothing (make remakes what read it).")
    rules.lines.extend(f"{name}:" for name in rules.inputs)
    rules.forget_other_links()
    return "\n".join(header + rules.lines) + "\n"


def record_starts_text(production: Production) -> str:
    """``render/<edit>.starts``: a line per cut of the edit, its name and the screening-cut frame it starts on
    (after the slate and the cuts before it); ``?`` from a cut whose spec cannot be read on (its render says
    why)."""
    from compositor.spec import ShotSpec, parse_model, read_toml  # noqa: PLC0415
    from compositor.steps.burnin import slate_frame_count  # noqa: PLC0415

    edit = load_edit(production)
    start: int | None = slate_frame_count(edit)
    lines = []
    for cut in edit.edit.cuts:
        lines.append(f"{cut} {start if start is not None else '?'}")
        path = production.shot_path(cut)
        try:
            spec = parse_model(ShotSpec, read_toml(path, production.rel(path)), production.rel(path))
        except CompositorError:
            start = None
            continue
        start = None if start is None else start + spec.shot.frames
    return "\n".join(lines) + "\n"


def _is_cut_name(name: str) -> bool:
    try:
        check_cut_name(name, "shots")
    except CompositorError:
        return False
    return True


def code_key() -> str:
    """The key of the compositor package that is running: every file of it (code, configs, fonts), by content.
    Any change to it (an upgrade, a default changed) changes the key; the steps' own keys then decide what,
    if anything, is made again."""
    import compositor  # noqa: PLC0415

    package = Path(compositor.__file__).parent
    files = sorted(
        p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    return content_key({str(p.relative_to(package)): file_digest(p) for p in files})
