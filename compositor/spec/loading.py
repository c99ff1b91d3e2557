"""Loading the specs: TOML files validated and resolved once into `Edit` and `Shot`, then passed down.

Every problem in a file is reported at once, one line each, as ``<file>: <key path>: <message>``. Paths in a
spec are relative to the cut's folder (or to ``shots/`` for ``edit.toml``) and must stay inside the
production (or inside a folder ``edit.roots`` names): checked on the real path, links followed, for the path
itself and for every file read from a folder or sequence it names (a drawing, a plate frame). A resolved
`Shot` carries everything the steps need (its style with all its sections, its presets, the edit-wide title
and defaults), so no step reads a TOML file again.

Paths under the production are kept as they are spelled from its root, never resolved through a link:
``render/`` may be a link to another disk and its paths stay ``render/...`` (make's targets depend on it).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from compositor.core.timesheet import parse_timing
from compositor.core.xdts import Timesheet, check_fits, read_xdts, timing_text
from compositor.errors import (
    CompositorError,
    MissingInputError,
    ProductionPathError,
    SpecError,
    TimesheetError,
)
from compositor.layout import FRAME_SUFFIXES, CutPaths, EditPaths, render_root
from compositor.spec.codec_limits import too_small
from compositor.spec.models import (
    CUT_NAME,
    MAX_CUT_NAME,
    NAME,
    DiffusionSettings,
    EditSection,
    EditSpec,
    EncodePreset,
    Limits,
    OutputSettings,
    ShotSpec,
    StyleSpec,
    camera_work_problems,
    parse_model,
)


def read_toml(path: Path, display: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a one-line `SpecError` naming the file and line."""
    display = display or str(path)
    if not path.is_file():
        raise MissingInputError(f"{display}: no such file")
    try:
        # utf-8-sig: a byte-order mark (what Windows Notepad may put first) is dropped, not "Invalid statement"
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{display}: not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{display}: not valid TOML: the file is not UTF-8 text") from None
    except ValueError:  # tomllib lets Python's int() refuse a number of thousands of digits
        raise SpecError(f"{display}: not valid TOML: a number too long to read (over 4300 digits)") from None
    except RecursionError:
        raise SpecError(f"{display}: not valid TOML: arrays or tables nested too deep to read") from None
    except OSError as e:  # permission, an I/O error: a traceback before
        from compositor.core.io import read_error  # noqa: PLC0415 (io imports OpenCV; a spec does not need it)

        raise read_error(display, e) from None
    if where := _nul_key(data):
        # A NUL can only come from a "\u0000" escape; no path, name or text may hold one (the OS refuses it).
        raise SpecError(f"{display}: {where}: a NUL character (\\u0000) cannot be in a spec")
    return data


def _nul_key(value: Any, where: str = "") -> str | None:
    """The key path of the first text (or key) in ``value`` that holds a NUL character, else None."""
    if isinstance(value, str):
        return (where or "(top level)") if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        inner = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else key
        if isinstance(key, str) and "\x00" in key:
            return inner
        if found := _nul_key(item, inner):
            return found
    return None


FONT_MAGICS = (b"\x00\x01\x00\x00", b"OTTO", b"true", b"typ1", b"ttcf", b"wOFF", b"wOF2", b"\x80\x01", b"%!PS-AdobeFont", b"%!FontType1")
"""How the font files FreeType reads begin: TrueType, OpenType (CFF), Apple, collections, WOFF 1/2, Type 1."""


def _is_font(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16).startswith(FONT_MAGICS)
    except OSError:
        return True  # unreadable: the encode says so, naming the file


def check_cut_name(name: str, where: str) -> None:
    """A cut's name becomes a folder, file names, make targets, a command-line argument and burn-in text:
    letters, digits, ``_`` and ``-`` (not first)."""
    if not re.fullmatch(CUT_NAME, name):
        raise SpecError(f"{where}: {name!r} is not a cut name (letters, digits, '_' and '-', not first)")
    if len(name) > MAX_CUT_NAME:  # passed validate, then failed at the first segment's file name
        raise SpecError(f"{where}: {name[:20]!r}... is {len(name)} characters long; a cut name has at most {MAX_CUT_NAME} "
                        "(it names the cut's files)")


def check_name(name: str, where: str, what: str) -> None:
    """A style's or a preset's name (``what``) is a file name in ``templates/``, never a path."""
    if not re.fullmatch(NAME, name):
        raise SpecError(f"{where}: {name!r} is not a {what} name (letters, digits, '_', '-' and '.', not first)")


@dataclass(frozen=True)
class Production:
    """The production folder: the one holding ``shots/``, ``templates/`` and ``render/``."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Production:
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "shots" / "edit.toml").is_file():
                return cls(folder)
        raise MissingInputError(f"{here}: not inside a production (no shots/edit.toml here or above)")

    @classmethod
    def at(cls, root: Path) -> Production:
        if not (root / "shots" / "edit.toml").is_file():
            raise SpecError(f"{root}: not a production (no shots/edit.toml)")
        return cls(root.resolve())

    @property
    def shots(self) -> Path:
        return self.root / "shots"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def render(self) -> Path:
        return render_root(self.root)

    @property
    def edit_path(self) -> Path:
        return self.shots / "edit.toml"

    def rel(self, path: Path) -> str:
        """A path as the user sees it and make spells it: relative to the production when it lies inside.

        Lexical (``..`` folded, links not followed): ``render/`` linked to another disk stays ``render/...``.
        """
        lexical = Path(os.path.abspath(path))
        for root in (Path(os.path.abspath(self.root)), self.real_root):  # the second: a path resolved elsewhere
            try:
                return str(lexical.relative_to(root))
            except ValueError:
                continue
        return str(path)

    @cached_property
    def real_root(self) -> Path:
        return self.root.resolve()

    def contains(self, path: Path, roots: tuple[Path, ...] = ()) -> bool:
        """Whether ``path``, links followed, lies inside the production or one of ``roots`` (real paths)."""
        try:
            real = path.resolve()
        except (RuntimeError, OSError):  # a link that leads back to itself: Python 3.11 raises RuntimeError
            raise ProductionPathError(
                f"{self.rel(path)}: a link that leads back to itself (a link loop): link it to a real file"
            ) from None
        return any(real.is_relative_to(folder) for folder in (self.real_root, *roots))

    def _where(self, roots: tuple[Path, ...]) -> str:
        return f"the production ({self.root})" + (" and edit.roots" if roots else "")

    def inside(self, base: Path, value: str, display: str, key: str, roots: tuple[Path, ...] = ()) -> Path:
        """Resolve ``value`` against ``base`` (links followed); refuse a path that leaves the production (and
        ``roots``, the real paths of ``edit.roots``)."""
        try:
            p = (base / value).resolve()
        except (RuntimeError, OSError):  # a link loop (see `contains`)
            raise ProductionPathError(f"{display}: {key}: {value!r} is a link that leads back to itself (a link loop)") from None
        if not self.contains(p, roots):
            raise ProductionPathError(f"{display}: {key}: {value!r} points outside {self._where(roots)}")
        return p

    def confine(self, files: list[Path], display: str, key: str, roots: tuple[Path, ...] = ()) -> None:
        """Refuse any of ``files`` (read from a folder or sequence a spec names) that is a link leading out of the
        production (and ``roots``): naming a folder inside must not read a file from anywhere."""
        for path in files:
            try:
                inside = self.contains(path, roots)
            except ProductionPathError as e:
                raise ProductionPathError(f"{display}: {key}: {e}") from None
            if not inside:
                raise ProductionPathError(
                    f"{display}: {key}: {self.rel(path)!r} is a link to {str(path.resolve())!r}, outside "
                    f"{self._where(roots)}"
                )

    def cut_folders(self) -> list[str]:
        """Every cut under ``shots/`` (a folder with a ``shot.toml``), listed in edit.toml or not, by name
        (names that are not cut names included: `check_cut_name` refuses them where they are used)."""
        return sorted(p.parent.name for p in self.shots.glob("*/shot.toml"))

    def shot_path(self, cut: str) -> Path:
        return self.shots / cut / "shot.toml"

    def style_path(self, name: str) -> Path:
        return self.templates / "styles" / f"{name}.toml"

    def preset_path(self, name: str) -> Path:
        return self.templates / "encode" / f"{name}.toml"

    def preset_names(self) -> list[str]:
        return sorted(p.stem for p in (self.templates / "encode").glob("*.toml"))

    def style_names(self) -> list[str]:
        return sorted(p.stem for p in (self.templates / "styles").glob("*.toml"))


def load_preset(production: Production, name: str) -> EncodePreset:
    """Read and validate ``templates/encode/<name>.toml``; a problem is a one-line `SpecError` per key."""
    check_name(name, "encode preset", "preset")
    path = production.preset_path(name)
    display = production.rel(path)
    if not path.is_file():
        raise SpecError(f"{display}: no encode preset {name!r} (have: {', '.join(production.preset_names()) or 'none'})")
    return parse_model(EncodePreset, read_toml(path, display), display)


def load_style(production: Production, name: str, display: str, key: str) -> StyleSpec:
    """Read and validate ``templates/styles/<name>.toml``, every section of it."""
    check_name(name, f"{display}: {key}", "style")
    path = production.style_path(name)
    if not path.is_file():
        have = ", ".join(production.style_names())
        raise SpecError(f"{display}: {key}: no style {name!r} in templates/styles/ (have: {have})")
    style_display = production.rel(path)
    return parse_model(StyleSpec, read_toml(path, style_display), style_display)


@dataclass(frozen=True)
class Edit:
    """``shots/edit.toml``, validated and resolved: the screening cut and what the cuts share."""

    production: Production
    spec: EditSpec
    path: Path
    audio: Path | None
    preset: EncodePreset
    roots: tuple[Path, ...] = ()
    """``edit.roots``, resolved: folders outside the production that specs may read from."""
    font: Path | None = None
    """``edit.font``, resolved: the burn-in and slate font the edit names (None: the shipped one)."""
    ffmpeg: str | None = None
    """``[encode] ffmpeg``, resolved: the ffmpeg the production names (None: the bundled one)."""
    ocio_config: str | None = None
    """``[colour] config``, resolved: a config file's path, an ``ocio://`` built-in, or None."""

    @property
    def edit(self) -> EditSection:
        return self.spec.edit

    @property
    def display(self) -> str:
        return self.production.rel(self.path)

    @property
    def paths(self) -> EditPaths:
        return EditPaths(self.production.root, self.edit.name)


def load_edit(production: Production, check_cuts: bool = True) -> Edit:
    """``shots/edit.toml`` resolved; every problem at once as one `SpecError`. ``check_cuts=False`` leaves out
    whether the cuts it lists exist (what `compositor validate` needs to check every cut folder anyway)."""
    path = production.edit_path
    display = production.rel(path)
    spec: EditSpec = parse_model(EditSpec, read_toml(path, display), display)
    problems = []
    for i, cut in enumerate(spec.edit.cuts if check_cuts else []):
        try:
            check_cut_name(cut, f"{display}: edit.cuts[{i}]")
        except SpecError as e:
            problems.append(str(e))
            continue
        if not production.shot_path(cut).is_file():
            problems.append(f"{display}: edit.cuts[{i}]: no cut {cut!r} (looked for shots/{cut}/shot.toml)")
    if check_cuts and len(set(spec.edit.cuts)) != len(spec.edit.cuts):
        problems.append(f"{display}: edit.cuts: a cut is listed twice")
    roots: list[Path] = []
    for i, value in enumerate(spec.edit.roots):
        folder = (production.shots / Path(value).expanduser()).resolve()
        if not folder.is_dir():
            problems.append(f"{display}: edit.roots[{i}]: no such folder {value!r}")
        else:
            roots.append(folder)

    def edit_file(key: str, value: str | None) -> Path | None:
        """A file ``edit.<key>`` names, confined to the production and ``roots`` (a problem noted if not there)."""
        if not value:
            return None
        try:
            path = production.inside(production.shots, value, display, f"edit.{key}", tuple(roots))
        except ProductionPathError as e:
            problems.append(str(e))
            return None
        if not path.is_file():
            problems.append(f"{display}: edit.{key}: no such file {value!r}")
        return path

    audio = edit_file("audio", spec.edit.audio)
    font = edit_file("font", spec.edit.font)
    if font is not None and font.is_file() and not _is_font(font):
        # ffmpeg's drawtext does not fail on a file FreeType cannot load: it falls back to fontconfig's default,
        # so the burn-ins and the slate came out in another font, silently.
        problems.append(f"{display}: edit.font: {spec.edit.font!r} is not a font file (TrueType, OpenType, WOFF or Type 1)")
    preset = None
    if not production.preset_path(spec.edit.encode).is_file():
        problems.append(f"{display}: edit.encode: no preset {spec.edit.encode!r} in templates/encode/")
    else:
        try:
            preset = load_preset(production, spec.edit.encode)
        except SpecError as e:
            problems.append(str(e))
    if preset is not None and (preset.codec != "libx264" or preset.container != "mp4"):
        problems.append(
            f"{display}: edit.encode: the screening cut joins H.264 mp4 movies, but {spec.edit.encode!r} is "
            f"{preset.codec} in {preset.container} (name a master preset in a cut's `encode` key instead)"
        )
    ffmpeg_exe, ocio_config = resolve_tools(production, spec, display, problems, tuple(roots))
    if problems:
        raise SpecError("\n".join(problems))
    assert preset is not None
    return Edit(
        production, spec, path, audio, preset, tuple(roots), font=font, ffmpeg=ffmpeg_exe, ocio_config=ocio_config
    )



def resolve_tools(
    production: Production, spec: EditSpec, display: str, problems: list[str], roots: tuple[Path, ...] = ()
) -> tuple[str | None, str | None]:
    """``[encode] ffmpeg`` and ``[colour] config`` resolved (a problem appended to ``problems`` per bad one).
    The config is an input like any other (inside the production or ``edit.roots``); the ffmpeg is a tool,
    wherever it is installed."""
    import shutil  # noqa: PLC0415

    exe: str | None = None
    named = spec.encode.ffmpeg
    if named:
        if "/" in named:
            candidate = (production.shots / Path(named).expanduser()).resolve()
            if candidate.is_file() and os.access(candidate, os.X_OK):
                exe = str(candidate)
        else:
            exe = shutil.which(named)
        if exe is None:
            problems.append(f"{display}: encode.ffmpeg: {named!r} is not an executable file (nor a command on PATH)")
    config: str | None = spec.colour.config
    if config and not config.startswith("ocio://"):
        try:
            candidate = production.inside(production.shots, config, display, "colour.config", roots)
        except ProductionPathError as e:
            problems.append(str(e))
            return exe, None
        if not candidate.is_file():
            problems.append(f"{display}: colour.config: no such file {config!r}")
        config = str(candidate)
    return exe, config


@dataclass(frozen=True)
class Shot:
    """A validated cut: the spec plus everything resolved against the production and its edit."""

    name: str
    production: Production
    edit: Edit
    spec: ShotSpec
    path: Path
    fps: float
    size: tuple[int, int]
    canvas: tuple[int, int]
    style: StyleSpec | None
    """The style template with every section validated; None for a plate that names no style."""
    style_path: Path | None
    diffusion: DiffusionSettings
    presets: dict[str, EncodePreset]
    """The presets this cut's movies are encoded with: the edit's first (the screening cut joins that one),
    then the cut's own ``encode`` if it names another."""
    files: dict[str, Path] = field(default_factory=dict)
    """Resolved inputs by key path (``background.plate``, ``layers[0].cels``, ...)."""
    timesheet: Timesheet | None = None
    """The cut's XDTS ``timesheet``, read (its dialogue and camerawork too); the layers it times already carry
    their timing from it in ``spec``."""

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def display(self) -> str:
        return self.production.rel(self.path)

    @property
    def frames(self) -> int:
        return self.spec.shot.frames

    @property
    def start(self) -> int:
        return self.spec.shot.start

    def frame_numbers(self) -> range:
        return range(self.start, self.start + self.frames)

    @property
    def paths(self) -> CutPaths:
        return CutPaths(self.production.root, self.name, FRAME_SUFFIXES[self.output.frames or "png8"])

    @cached_property
    def output(self) -> OutputSettings:
        """``[output]``, resolved: the cut's keys over the edit's over the defaults (every key set)."""
        return self.spec.output.merged_over(self.edit.spec.output).resolved()

    @property
    def linear(self) -> bool:
        """Whether the cut is composited in linear light (its ``[colour] linear``, else the edit's)."""
        own = self.spec.colour.linear
        return bool(self.edit.spec.colour.linear if own is None else own)

    @property
    def out(self) -> Path:
        return self.paths.folder

    @property
    def title(self) -> str:
        """The edit's title, as burn-ins show it."""
        return self.edit.edit.title

    @property
    def edit_preset(self) -> str:
        """The preset the screening cut joins the cuts in (``edit.encode``)."""
        return self.edit.edit.encode

    @property
    def own_preset(self) -> str:
        """The cut's own preset: its ``encode`` key, else the edit's."""
        return self.spec.encode or self.edit_preset

    def preset(self, name: str | None = None) -> tuple[str, EncodePreset]:
        """A preset by name (default: the edit's); one the cut does not already use is loaded."""
        name = name or self.edit_preset
        if name in self.presets:
            return name, self.presets[name]
        return name, load_preset(self.production, name)

    def movie(self, preset: str | None = None) -> Path:
        name, settings = self.preset(preset)
        return self.paths.movie(name, self.edit_preset, settings.suffix)


# ------------------------------------------------------------------------------------------------------------
# Memory: what a cut's render needs at its peak, estimated from its sizes before anything is made

BYTES_PER_PIXEL = 16
"""A pixel in memory: float32 premultiplied RGBA."""
RENDER_THREADS = 4
"""The most threads a render composites with by default (``steps.composite.render_cut``). The estimate
assumes all of them, so that it does not depend on the machine that validates."""
CANVASES_PAINTED = 3
"""Canvas-sized buffers while a background is made: the procedural painter peaks at 2.3 canvases (measured
at 2048x1024 and 4096x2048), and laying the retouch holds one more."""
CANVASES_STEADIED = 87.0
"""Canvas-sized buffers while the temporal pass runs with its default settings (``steadied_canvases``)."""


def steadied_canvases(temporal: Any) -> float:
    """Canvas-sized buffers the temporal pass holds with these settings: a window of frames with their context
    either side (the frames and their motion at flow resolution), the backward sweep's averages for the window,
    and temporaries: about 3.9 a frame of the window and 1.3 a frame of context (tracemalloc, 320x176 to
    1280x720: 113 at window 24, 66 at window 12, context 8)."""
    from compositor.temporal.bidirectional import context_for  # noqa: PLC0415 (OpenCV, only for a pass)

    return 3.9 * temporal.window + 2.6 * context_for(temporal) + 3.8
FRAMES_PER_THREAD = 5
"""Frame-sized buffers per compositing thread: the frame, an effect's output and its temporaries (a glow
peaks at 4.3 frames, measured at 3840x2160)."""


def peak_memory(
    frame: tuple[int, int],
    canvas: tuple[int, int],
    moving: bool,
    steadied: bool,
    canvases_steadied: float = CANVASES_STEADIED,
) -> int:
    """The estimated peak memory, in bytes, of rendering a cut with ``frame`` and ``canvas`` sizes (W, H).

    The larger of its two stages: making the background (``CANVASES_PAINTED`` canvases, or
    ``CANVASES_STEADIED`` for a ``moving`` background the temporal pass ``steadied``), and compositing
    (``RENDER_THREADS`` threads of ``FRAMES_PER_THREAD`` frames each, over one shared still canvas or a
    ``moving`` canvas per thread). Memory does not grow with the cut's length: frames stream.
    """
    canvas_bytes = canvas[0] * canvas[1] * BYTES_PER_PIXEL
    frame_bytes = frame[0] * frame[1] * BYTES_PER_PIXEL
    background = round(canvas_bytes * (canvases_steadied if steadied else CANVASES_PAINTED))
    composite = canvas_bytes * (RENDER_THREADS if moving else 1) + frame_bytes * FRAMES_PER_THREAD * RENDER_THREADS
    return max(background, composite)


def _moving_background(spec: ShotSpec) -> bool:
    """Whether the background has a canvas per frame (else one still canvas serves the whole cut)."""
    bg = spec.background
    if bg.animate or bg.per_frame:
        return True
    if bg.source == "plate" and bg.plate:
        from compositor.core.io import IMAGE_SUFFIXES  # noqa: PLC0415 (OpenCV only for cuts that read plates)

        return "%" in bg.plate or Path(bg.plate).suffix.lower() not in IMAGE_SUFFIXES
    return False


def check_memory(spec: ShotSpec, frame: tuple[int, int], canvas: tuple[int, int], limits: Limits) -> str | None:
    """The problem (without the file's name) when the cut's estimated peak memory is over ``limits``."""
    moving = _moving_background(spec)
    steadied = moving and spec.temporal is not None and spec.temporal.method != "none"
    held = steadied_canvases(spec.temporal.settings()) if steadied and spec.temporal else CANVASES_STEADIED
    need = peak_memory(frame, canvas, moving, steadied, held) / 2**30
    if need <= limits.memory_gb:
        return None
    what = "steadied by the temporal pass, " if steadied else "one a frame, " if moving else ""
    return (
        f"background.canvas: a {canvas[0]}x{canvas[1]} canvas ({what}with {frame[0]}x{frame[1]} frames) needs about "
        f"{need:.1f} GB to render, over the memory budget of {limits.memory_gb:g} GB "
        "(make the canvas or the frame smaller, or raise [limits] memory_gb in shots/edit.toml)"
    )


def _files_read(path: Path, pattern: bool, display: str, hold_missing: bool) -> list[Path]:
    """The files a step reads from what a spec names, beyond the path itself: the image files of a folder (a
    layer's drawings; only the links among them can lead elsewhere), every frame of a sequence (whose gaps
    and duplicates are errors here, before anything renders)."""
    from compositor.core.io import IMAGE_SUFFIXES, sequence_files  # noqa: PLC0415 (OpenCV, only for a cut)

    if path.is_dir():
        with os.scandir(path) as entries:
            return [
                Path(e.path)
                for e in entries
                if e.is_symlink() and not e.name.startswith(".") and Path(e.name).suffix.lower() in IMAGE_SUFFIXES
            ]
    if pattern and "%" in path.name:
        return list(dict.fromkeys(sequence_files(path, display, hold_missing)))
    return []


def load_shot(production: Production, name: str, edit: Edit | None = None) -> Shot:
    """Read and validate ``shots/<name>/shot.toml``; every problem is reported at once."""
    check_cut_name(name, "cut")
    edit = edit or load_edit(production)
    path = production.shot_path(name)
    display = production.rel(path)
    if not path.is_file():
        raise MissingInputError(f"{display}: no such cut (make one: compositor new {name})")
    spec: ShotSpec = parse_model(ShotSpec, read_toml(path, display), display)
    base = path.parent
    problems: list[str] = []
    files: dict[str, Path] = {}

    def resolve(value: str | None, key: str, pattern: bool = False) -> None:
        if value is None:
            return
        if not value.strip():  # "" would be the cut's own folder: taken for a cel folder, it held no drawings
            problems.append(f"{display}: {key}: an empty path (name a file or folder, or leave the key out)")
            return
        try:
            p = production.inside(base, value, display, key, edit.roots)
        except ProductionPathError as e:
            problems.append(str(e))
            return
        exists = p.exists() or (pattern and "%" in value and any(p.parent.glob("*")))
        if not exists:
            problems.append(f"{display}: {key}: no such file or folder {value!r} (looked in {production.rel(p.parent)})")
            return
        try:
            read = _files_read(p, pattern, f"{display}: {key}", spec.background.hold_missing)
            production.confine(read, display, key, edit.roots)
        except CompositorError as e:  # a link out, a gap or a duplicate in a sequence
            problems.append(str(e))
            return
        files[key] = p

    bg = spec.background
    resolve(bg.plate, "background.plate", pattern=True)
    resolve(bg.layout, "background.layout")
    resolve(bg.retouch, "background.retouch")
    for i, inpaint in enumerate(bg.inpaint):
        resolve(inpaint.mask, f"background.inpaint[{i}].mask")
    if bg.reference is not None:
        resolve(bg.reference.image, "background.reference.image")
    if spec.temporal is not None:
        resolve(spec.temporal.guide, "temporal.guide", pattern=True)

    if bg.plate_colourspace and not edit.ocio_config:
        problems.append(
            f"{display}: background.plate_colourspace: {bg.plate_colourspace!r} needs an OpenColorIO config "
            '([colour] config in shots/edit.toml, or "ocio://default")'
        )
    elif bg.plate_colourspace:
        from compositor.core.colour import check_colourspaces  # noqa: PLC0415 (OpenColorIO only when asked)

        try:
            check_colourspaces(edit.ocio_config, [bg.plate_colourspace, edit.spec.colour.working_space])
        except CompositorError as e:
            problems.append(f"{display}: background.plate_colourspace: {e}")

    style: StyleSpec | None = None
    style_path: Path | None = None
    # A plate needs no style unless the cut names one; generated backgrounds always read theirs.
    if bg.source != "plate" or "style" in bg.model_fields_set:
        try:
            style = load_style(production, bg.style, display, "background.style")
            style_path = production.style_path(bg.style)
        except SpecError as e:
            problems.append(str(e))

    own = DiffusionSettings.model_validate(bg.model_dump(include=set(DiffusionSettings.model_fields)))
    diffusion = own.merged_over((style.diffusion if style else DiffusionSettings()).merged_over(edit.spec.diffusion))
    if bg.source == "diffusion" and not diffusion.model:
        problems.append(
            f"{display}: background.model: source = \"diffusion\" needs a model "
            "(a local diffusers folder or a hub id), here, in the style's [diffusion] or in edit.toml's [diffusion]"
        )

    fps = spec.shot.fps or edit.edit.fps
    size = spec.shot.size or edit.edit.size
    canvas = bg.canvas or size
    for axis, (c, s) in enumerate(zip(canvas, size)):
        if c < s:
            problems.append(f"{display}: background.canvas: {'width' if axis == 0 else 'height'} {c} is smaller than the frame's {s}")
    if too_much := check_memory(spec, size, canvas, edit.spec.limits):
        problems.append(f"{display}: {too_much}")

    first, last = spec.shot.start, spec.shot.start + spec.shot.frames - 1
    for i, key in enumerate(spec.camera.keys):
        if not first <= key.frame <= last:
            problems.append(f"{display}: camera.keys[{i}].frame: {key.frame} is outside the cut ({first}-{last})")

    sheet: Timesheet | None = None
    if spec.timesheet is not None:
        resolve(spec.timesheet, "timesheet")
        if "timesheet" in files:
            try:
                sheet = read_xdts(files["timesheet"], production.rel(files["timesheet"]))
                check_fits(sheet, spec.shot.frames)
            except CompositorError as e:
                problems.append(f"{display}: timesheet: {e}")
                sheet = None
    from_sheet: dict[int, str] = {}

    names = [layer.name for layer in spec.layers]
    for i, layer in enumerate(spec.layers):
        if names.count(layer.name) > 1 and names.index(layer.name) == i:
            problems.append(f"{display}: layers[{i}].name: layer name {layer.name!r} is used twice")
        resolve(layer.cels, f"layers[{i}].cels")
        if layer.timing is None:
            if not spec.timesheet:
                problems.append(
                    f"{display}: layers[{i}].timing: missing (give the layer a timing, or the cut a top-level "
                    f"`timesheet` with a cel track named {layer.name!r})"
                )
            elif sheet is not None:
                try:
                    from_sheet[i] = timing_text(sheet.exposure(layer.track or layer.name))
                except TimesheetError as e:
                    problems.append(f"{display}: layers[{i}].{'track' if layer.track else 'name'}: {e}")
        else:  # a layer the sheet times has its shades and fill key resolved too (they were skipped: a KeyError)
            try:
                parse_timing(layer.timing, spec.shot.frames)
            except TimesheetError as e:
                problems.append(f"{display}: layers[{i}].timing: {e}")
        for j, shade in enumerate(layer.shade):  # light and tone: the mattes and colour keys are files too
            resolve(shade.cels, f"layers[{i}].shade[{j}].cels")
            if shade.timing is not None:
                try:
                    parse_timing(shade.timing, spec.shot.frames)
                except TimesheetError as e:
                    problems.append(f"{display}: layers[{i}].shade[{j}].timing: {e}")
        if layer.fill is not None:
            resolve(layer.fill.key, f"layers[{i}].fill.key")
    for i, para in enumerate(spec.para):
        for layer_name in para.layers:
            if layer_name not in names:
                problems.append(f"{display}: para[{i}].layers: no layer named {layer_name!r}")

    problems += [f"{display}: {key}: {problem}" for key, problem in camera_work_problems(spec)]
    linear = edit.spec.colour.linear if spec.colour.linear is None else spec.colour.linear
    if linear:
        blurs = spec.camera.motion_blur or spec.camera.focus or any(la.motion_blur or la.blur_keys for la in spec.layers)
        tone = spec.para or spec.lens or any(la.shade or la.light or la.blend == "alpha-add" for la in spec.layers)
        if blurs or tone:
            problems.append(
                f"{display}: colour.linear: linear-light compositing does not take "
                f"{'motion blur or depth of field' if blurs else 'light and tone (shade, light, para, lens, alpha-add)'}"
                " yet; composite this cut in sRGB (`linear = false` in its [colour])"
            )

    presets = {edit.edit.encode: edit.preset}
    if spec.encode and spec.encode not in presets:
        if not production.preset_path(spec.encode).is_file():
            problems.append(f"{display}: encode: no preset {spec.encode!r} in templates/encode/")
        else:
            try:
                presets[spec.encode] = load_preset(production, spec.encode)
            except SpecError as e:
                problems.append(str(e))
    for preset_name, preset in presets.items():
        # The edit's preset as well as the cut's own: x265 at 2x2 failed only at the encode, naming a segment.
        if small := too_small(preset, (int(size[0]), int(size[1]))):
            problems.append(f"{display}: encode: {preset_name!r} is {small[0]}, which needs frames of at least "
                            f"{small[1][0]}x{small[1][1]}, but the cut is {size[0]}x{size[1]}")

    if problems:
        raise SpecError("\n".join(problems))
    if from_sheet:
        # Resolved here, once: every step (and every key) sees the sheet's timing as the layer's own.
        layers = [layer.model_copy(update={"timing": from_sheet[i]}) if i in from_sheet else layer for i, layer in enumerate(spec.layers)]
        spec = spec.model_copy(update={"layers": layers})
    return Shot(
        name=name,
        production=production,
        edit=edit,
        spec=spec,
        path=path,
        fps=fps,
        size=(int(size[0]), int(size[1])),
        canvas=(int(canvas[0]), int(canvas[1])),
        style=style,
        style_path=style_path,
        diffusion=diffusion,
        presets=presets,
        files=files,
        timesheet=sheet,
    )
