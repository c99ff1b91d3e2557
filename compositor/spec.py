"""The shot spec and the edit spec: TOML files validated with pydantic before anything renders.

Every problem in a file is reported at once, one line each, as ``<file>: <key path>: <message>``; unknown keys
are errors so that a typo is never ignored. Paths in a spec are relative to the cut's folder (or to ``shots/``
for ``edit.toml``) and must stay inside the production.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from compositor.errors import MissingInputError, ProductionPathError, SpecError

EASES = ("linear", "in", "out", "in-out", "hold")
BLENDS = ("over", "multiply", "screen", "add")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveInt = Annotated[int, Field(gt=0)]
Size = tuple[PositiveInt, PositiveInt]


class ShotSection(_Strict):
    frames: PositiveInt
    fps: float | None = Field(default=None, gt=0)
    size: Size | None = None
    start: int = 1
    """The number of the cut's first frame on the timesheet (frame files are numbered from it)."""


class DiffusionSettings(_Strict):
    """Keys that tune a diffusion background; a cut, its style template and ``edit.toml`` may each set them.

    The cut wins over the style, the style over the edit.
    """

    model: str | None = None
    controlnet: str | None = None
    scheduler: str | None = None
    steps: PositiveInt | None = None
    guidance: float | None = Field(default=None, ge=0)
    negative_prompt: str | None = None
    strength: float | None = Field(default=None, gt=0, le=1)
    device: Literal["auto", "cuda", "mps", "cpu"] | None = None
    dtype: Literal["auto", "float16", "bfloat16", "float32"] | None = None
    tile: PositiveInt | None = None
    """Tile edge in pixels for wide canvases (MultiDiffusion); default: the model's native size."""
    overlap: PositiveInt | None = None
    """Overlap between neighbouring tiles in pixels."""

    def merged_over(self, base: DiffusionSettings) -> DiffusionSettings:
        """These settings, with every unset key taken from ``base``."""
        mine = self.model_dump(exclude_none=True)
        return base.model_copy(update=mine)


class BackgroundSection(DiffusionSettings):
    source: Literal["procedural", "diffusion", "plate"] = "procedural"
    style: str = "dusk"
    prompt: str = ""
    seed: int = 0
    canvas: Size | None = None
    plate: str | None = None
    layout: str | None = None
    retouch: str | None = None
    per_frame: bool = False
    """For diffusion over a video or image-sequence plate: image-to-image on every frame."""
    stylize: Literal["none", "paint", "cel"] = "none"
    """A per-frame painterly look for plates (filmed footage made to look painted); flickers without [temporal]."""
    animate: bool = False
    """For procedural backgrounds: drifting clouds, one painted canvas per frame."""

    @model_validator(mode="after")
    def _source_needs(self) -> BackgroundSection:
        if self.source == "plate" and not self.plate:
            raise ValueError('source = "plate" needs a `plate` key (an image, a sequence like bg.%04d.png, or a video)')
        if self.per_frame and self.source != "diffusion":
            raise ValueError('`per_frame` only applies to source = "diffusion"')
        return self


class TemporalSection(_Strict):
    """The temporal-consistency pass (compositor.temporal) on a background that changes from frame to frame."""

    method: Literal["flow", "none"] = "flow"
    strength: float = Field(default=0.8, ge=0, lt=1)
    """Weight of the motion-compensated previous output; the pass remembers about 1 / (1 - strength) frames."""
    flow: Literal["dis_ultrafast", "dis_fast", "dis_medium", "farneback"] = "dis_fast"
    """The optical flow on the guide (bench/flow_presets.py measures them): DIS presets or Farneback."""
    flow_scale: float = Field(default=0.0, ge=0, le=1)
    """The guide is resized by this for the flow (0: automatic, 360 to 720 px tall: 0.5 at 1280x720)."""
    detail: float = Field(default=0.85, ge=0, le=1)
    """How much fine texture is steadied where the flow is trusted: 0 colour only, 1 all of it."""
    keyframe_interval: int = Field(default=0, ge=0)
    """Every N frames the input passes through unchanged and the recursion restarts (0: never); bounds drift."""
    guide: str | None = None
    """Where motion comes from: default the plate itself (un-stylised), or another sequence or video."""


class CameraKey(_Strict):
    frame: int
    x: float
    y: float
    zoom: float = Field(default=1.0, gt=0)
    rotation: float = 0.0
    ease: Literal["linear", "in", "out", "in-out", "hold"] = "linear"


class CameraSection(_Strict):
    keys: list[CameraKey] = Field(default_factory=list)

    @field_validator("keys")
    @classmethod
    def _frames_increase(cls, keys: list[CameraKey]) -> list[CameraKey]:
        frames = [k.frame for k in keys]
        if frames != sorted(set(frames)):
            raise ValueError(f"key frames must increase strictly, got {frames}")
        return keys


class MotionKey(_Strict):
    frame: int
    x: float
    y: float
    ease: Literal["linear", "in", "out", "in-out", "hold"] = "linear"


class Layer(_Strict):
    name: str = Field(min_length=1)
    cels: str
    timing: str | list[int | str]
    key: Literal["alpha", "paper"] = "alpha"
    position: tuple[float, float] = (0.0, 0.0)
    """Where the drawing's top-left corner sits on screen at the camera's first key, in frame pixels."""
    motion: list[MotionKey] = Field(default_factory=list)
    """Keys that move ``position`` over the cut (a character crossing the frame)."""
    scale: float = Field(default=1.0, gt=0)
    parallax: float = 1.0
    opacity: float = Field(default=1.0, ge=0, le=1)
    blend: Literal["over", "multiply", "screen", "add"] = "over"
    blur: float = Field(default=0.0, ge=0)
    """Gaussian blur radius in pixels (depth of field on a BOOK layer or a far layer)."""


class Effect(_Strict):
    type: Literal["glow", "vignette", "grain", "grade"]
    strength: float = Field(default=0.5, ge=0)
    radius: float = Field(default=24.0, gt=0)
    threshold: float = Field(default=0.7, ge=0, le=1)
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    seed: int = 0


class ShotSpec(_Strict):
    shot: ShotSection
    background: BackgroundSection = Field(default_factory=BackgroundSection)
    temporal: TemporalSection | None = None
    camera: CameraSection = Field(default_factory=CameraSection)
    layers: list[Layer] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    encode: str | None = None


class EditSection(_Strict):
    name: str = Field(default="short", pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = ""
    fps: float = Field(default=24, gt=0)
    size: Size = (1280, 720)
    encode: str = "screening"
    cuts: list[str] = Field(min_length=1)
    audio: str | None = None
    slate: float = Field(default=2.0, ge=0)
    """Seconds of slate (title, date, cut list) before the first cut; 0 for none."""


class EditSpec(_Strict):
    edit: EditSection
    diffusion: DiffusionSettings = Field(default_factory=DiffusionSettings)


# ----------------------------------------------------------------------------------------------------------------
# Loading and error formatting


def _key_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _pydantic_lines(display: str, err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        loc = [p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling)"
        elif e["type"] == "missing":
            msg = "missing required key"
        lines.append(f"{display}: {_key_path(loc)}: {msg}")
    return lines


def read_toml(path: Path, display: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a one-line `SpecError` naming the file and line."""
    display = display or str(path)
    if not path.is_file():
        raise MissingInputError(f"{display}: no such file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{display}: not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{display}: not valid TOML: the file is not UTF-8 text") from None


def _parse(model: type[BaseModel], data: dict[str, Any], display: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise SpecError("\n".join(_pydantic_lines(display, e))) from None


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

    @property
    def shots(self) -> Path:
        return self.root / "shots"

    @property
    def render(self) -> Path:
        return self.root / "render"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    def rel(self, path: Path) -> str:
        """A path as the user sees it: relative to the production when it lies inside."""
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def inside(self, base: Path, value: str, display: str, key: str) -> Path:
        """Resolve ``value`` against ``base``; refuse a path that leaves the production."""
        p = (base / value).resolve()
        try:
            p.relative_to(self.root)
        except ValueError:
            raise ProductionPathError(
                f"{display}: {key}: {value!r} points outside the production ({self.root})"
            ) from None
        return p

    def cut_names(self) -> list[str]:
        return load_edit(self).edit.cuts

    def style_path(self, name: str) -> Path:
        return self.templates / "styles" / f"{name}.toml"

    def preset_path(self, name: str) -> Path:
        return self.templates / "encode" / f"{name}.toml"


@dataclass(frozen=True)
class Edit:
    production: Production
    spec: EditSpec
    path: Path
    audio: Path | None

    @property
    def edit(self) -> EditSection:
        return self.spec.edit


def load_edit(production: Production) -> Edit:
    path = production.shots / "edit.toml"
    display = production.rel(path)
    spec: EditSpec = _parse(EditSpec, read_toml(path, display), display)
    problems = []
    for i, cut in enumerate(spec.edit.cuts):
        if not (production.shots / cut / "shot.toml").is_file():
            problems.append(f"{display}: edit.cuts[{i}]: no cut {cut!r} (looked for shots/{cut}/shot.toml)")
    if len(set(spec.edit.cuts)) != len(spec.edit.cuts):
        problems.append(f"{display}: edit.cuts: a cut is listed twice")
    audio = None
    if spec.edit.audio:
        try:
            audio = production.inside(production.shots, spec.edit.audio, display, "edit.audio")
            if not audio.is_file():
                problems.append(f"{display}: edit.audio: no such file {spec.edit.audio!r}")
        except ProductionPathError as e:
            problems.append(str(e))
    if not production.preset_path(spec.edit.encode).is_file():
        problems.append(f"{display}: edit.encode: no preset {spec.edit.encode!r} in templates/encode/")
    if problems:
        raise SpecError("\n".join(problems))
    return Edit(production, spec, path, audio)


@dataclass(frozen=True)
class Shot:
    """A validated cut: the spec plus everything resolved against the production."""

    name: str
    production: Production
    spec: ShotSpec
    path: Path
    fps: float
    size: tuple[int, int]
    canvas: tuple[int, int]
    style_path: Path
    style: dict[str, Any]
    diffusion: DiffusionSettings
    files: dict[str, Path] = field(default_factory=dict)
    """Resolved inputs by key path (``background.plate``, ``layers[0].cels``, ...)."""

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
    def out(self) -> Path:
        return self.production.render / self.name


def load_style(production: Production, name: str, display: str, key: str) -> tuple[Path, dict[str, Any]]:
    path = production.style_path(name)
    if not path.is_file():
        known = sorted(p.stem for p in (production.templates / "styles").glob("*.toml"))
        raise SpecError(f"{display}: {key}: no style {name!r} in templates/styles/ (have: {', '.join(known)})")
    data = read_toml(path, production.rel(path))
    allowed = {"description", "prompt", "procedural", "diffusion"}
    extra = sorted(set(data) - allowed)
    if extra:
        raise SpecError(f"{production.rel(path)}: {extra[0]}: unknown section (have: {', '.join(sorted(allowed))})")
    return path, data


def load_shot(production: Production, name: str, edit: Edit | None = None) -> Shot:
    """Read and validate ``shots/<name>/shot.toml``; every problem is reported at once."""
    from compositor.core.timesheet import TimesheetError, parse_timing  # noqa: PLC0415 (spec <-> timesheet)

    edit = edit or load_edit(production)
    path = production.shots / name / "shot.toml"
    display = production.rel(path)
    raw = read_toml(path, display)
    spec: ShotSpec = _parse(ShotSpec, raw, display)
    base = path.parent
    problems: list[str] = []
    files: dict[str, Path] = {}

    def resolve(value: str | None, key: str, must_exist: bool = True, pattern: bool = False) -> None:
        if not value:
            return
        try:
            p = production.inside(base, value, display, key)
        except ProductionPathError as e:
            problems.append(str(e))
            return
        exists = p.exists() or (pattern and "%" in value and any(p.parent.glob("*")))
        if must_exist and not exists:
            problems.append(f"{display}: {key}: no such file or folder {value!r} (looked in {production.rel(p.parent)})")
            return
        files[key] = p

    bg = spec.background
    resolve(bg.plate, "background.plate", pattern=True)
    resolve(bg.layout, "background.layout")
    resolve(bg.retouch, "background.retouch")
    if spec.temporal is not None:
        resolve(spec.temporal.guide, "temporal.guide", pattern=True)

    style_path, style = production.style_path(bg.style), {}
    # A plate needs no style unless the cut names one; generated backgrounds always read theirs.
    if bg.source != "plate" or "style" in bg.model_fields_set:
        try:
            style_path, style = load_style(production, bg.style, display, "background.style")
        except SpecError as e:
            problems.append(str(e))

    style_diffusion = DiffusionSettings()
    if "diffusion" in style:
        try:
            style_diffusion = _parse(DiffusionSettings, style["diffusion"], production.rel(style_path) + ": diffusion")
        except SpecError as e:
            problems.append(str(e))
    diffusion = (
        DiffusionSettings.model_validate(bg.model_dump(include=set(DiffusionSettings.model_fields)))
        .merged_over(style_diffusion.merged_over(edit.spec.diffusion))
    )
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
            problems.append(
                f"{display}: background.canvas: {'width' if axis == 0 else 'height'} {c} is smaller than the frame's {s}"
            )

    for i, key in enumerate(spec.camera.keys):
        if not spec.shot.start <= key.frame < spec.shot.start + spec.shot.frames:
            problems.append(
                f"{display}: camera.keys[{i}].frame: {key.frame} is outside the cut "
                f"({spec.shot.start}-{spec.shot.start + spec.shot.frames - 1})"
            )

    names = [layer.name for layer in spec.layers]
    for i, layer in enumerate(spec.layers):
        if names.count(layer.name) > 1 and names.index(layer.name) == i:
            problems.append(f"{display}: layers[{i}].name: layer name {layer.name!r} is used twice")
        resolve(layer.cels, f"layers[{i}].cels")
        try:
            parse_timing(layer.timing, spec.shot.frames)
        except TimesheetError as e:
            problems.append(f"{display}: layers[{i}].timing: {e}")
        frames = [m.frame for m in layer.motion]
        if frames != sorted(set(frames)):
            problems.append(f"{display}: layers[{i}].motion: key frames must increase strictly, got {frames}")

    if spec.encode and not production.preset_path(spec.encode).is_file():
        problems.append(f"{display}: encode: no preset {spec.encode!r} in templates/encode/")

    if problems:
        raise SpecError("\n".join(problems))
    return Shot(
        name=name,
        production=production,
        spec=spec,
        path=path,
        fps=fps,
        size=tuple(size),
        canvas=tuple(canvas),
        style_path=style_path,
        style=style,
        diffusion=diffusion,
        files=files,
    )


def validate_production(production: Production) -> list[str]:
    """Every problem in the production, one line each (empty when all is well)."""
    try:
        edit = load_edit(production)
    except (SpecError, MissingInputError) as e:
        return str(e).splitlines()
    problems: list[str] = []
    for cut in edit.edit.cuts:
        try:
            shot = load_shot(production, cut, edit)
            from compositor.core.cels import check_layers  # noqa: PLC0415

            check_layers(shot)
            if shot.spec.background.source == "procedural":
                from compositor.backgrounds.procedural import style_of  # noqa: PLC0415

                style_of(shot)
        except (SpecError, MissingInputError, ProductionPathError) as e:
            problems.extend(str(e).splitlines())
    return problems
