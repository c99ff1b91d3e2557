"""The spec models: every key a user can write, its type, range and default, in one place.

Strict (unknown keys are errors, so a typo is never ignored) and frozen (a resolved spec is passed down the
pipeline and never changed on the way). Loading and resolving them against a production is ``loading``'s job.

Every number is finite (``inf`` and ``nan`` are errors, whatever the key) and has a range: the values a
working production stays well inside, so that nothing the spec accepts can overflow an op, make a list of
billions of frames or ask for more memory than a machine has. Where a bound is not obvious its reason is
written beside it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from compositor.errors import SpecError

EASES = ("linear", "in", "out", "in-out", "hold")
BLENDS = ("over", "multiply", "screen", "add")
EFFECTS = ("glow", "vignette", "grain", "grade")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, allow_inf_nan=False)


MAX_EDGE = 16384
"""The largest frame or canvas side in pixels: 4x a 4K frame's width, and the most a canvas can be while one
float32 RGBA copy of it (16384² × 16 bytes = 4 GiB) still fits a workstation's memory."""
MAX_FRAMES = 100_000
"""The longest cut: about 70 minutes at 24 fps (a whole feature is rarely one cut)."""
MAX_START = 1_000_000
"""How far from 0 a cut's first timesheet number may be (``start``)."""
MAX_FRAME_NUMBER = MAX_START + MAX_FRAMES
"""Key frames (camera, motion) may lie anywhere a cut's frame numbers can: ``±(MAX_START + MAX_FRAMES)``."""
MAX_COORDINATE = 1e6
"""Camera and layer positions in pixels: ±10^6, 60 times the largest canvas, far past anything on screen."""
MAX_SEED = 2**63 - 1
"""Seeds are 0 to 2^63 - 1: what numpy and torch generators take without wrapping."""
MAX_DEGREES = 36_000.0
"""Rotation in degrees: 100 turns either way."""

Pixels = Annotated[int, Field(ge=1, le=MAX_EDGE)]
Size = tuple[Pixels, Pixels]
Ease = Literal["linear", "in", "out", "in-out", "hold"]
Fps = Annotated[float, Field(gt=0, le=1000)]
"""Frames per second: above 0, at most 1000 (high-speed footage is conformed to a normal rate first)."""
FrameNumber = Annotated[int, Field(ge=-MAX_FRAME_NUMBER, le=MAX_FRAME_NUMBER)]
Coordinate = Annotated[float, Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


def _check_colour(value: str) -> str:
    text = value.strip()
    if len(text) != 7 or text[0] != "#" or any(ch not in "0123456789abcdefABCDEF" for ch in text[1:]):
        raise ValueError(f'expected a colour like "#87ceeb", got {value!r}')
    return text.lower()


Colour = Annotated[str, AfterValidator(_check_colour)]
Unit = Annotated[float, Field(ge=0, le=1)]

CUT_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"
"""What a cut's name may hold: letters, digits, ``_`` and ``-`` (not first). It becomes a folder, file names,
make targets, a command-line argument (so no leading ``-``) and burn-in text."""

NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
"""What a style's or an encode preset's name may hold: a file name in ``templates/`` (never a path: no ``/``,
no leading ``.``) that also names the cut's movies and their segment folders."""


def _check_name(value: str) -> str:
    if not re.fullmatch(NAME, value):
        raise ValueError(f"{value!r} is not a name (letters, digits, '_', '-' and '.', not first)")
    return value


Name = Annotated[str, AfterValidator(_check_name)]


# ------------------------------------------------------------------------------------------------------------
# Error lines: the one formatter of pydantic's errors (every spec file, every section)


def key_path(loc: Any, prefix: str = "") -> str:
    """``("layers", 1, "timing")`` → ``layers[1].timing`` (under ``prefix``, e.g. ``procedural.clouds``)."""
    out = prefix
    for part in loc:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


def problem_lines(display: str, error: ValidationError, prefix: str = "") -> list[str]:
    """One ``<file>: <key path>: <message>`` line per problem pydantic found."""
    errors = [(tuple(error_item["loc"]), error_item) for error_item in error.errors()]
    lines = []
    for loc, item in errors:
        # A list with a bad item is also "too short" once the item is dropped: say only what is wrong.
        if item["type"] == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o, _ in errors):
            continue
        msg = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling)"
        elif item["type"] == "missing":
            msg = "missing required key"
        lines.append(f"{display}: {key_path(loc, prefix)}: {msg}")
    return lines


def parse_model(model: type[BaseModel], data: Any, display: str, prefix: str = "") -> Any:
    """Validate ``data`` as ``model``; every problem becomes one line of a single `SpecError`."""
    if not isinstance(data, dict):
        raise SpecError(f"{display}: {prefix or '(top level)'}: expected a table of keys, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise SpecError("\n".join(problem_lines(display, e, prefix))) from None


# ------------------------------------------------------------------------------------------------------------
# The cut: shots/<cut>/shot.toml


class ShotSection(Strict):
    frames: int = Field(ge=1, le=MAX_FRAMES)
    fps: Fps | None = None
    size: Size | None = None
    start: int = Field(default=1, ge=-MAX_START, le=MAX_START)
    """The number of the cut's first frame on the timesheet (frame files are numbered from it)."""


class DiffusionSettings(Strict):
    """Keys that tune a diffusion background; a cut, its style template and ``edit.toml`` may each set them.

    The cut wins over the style, the style over the edit.
    """

    model: str | None = None
    controlnet: str | None = None
    scheduler: str | None = None
    steps: int | None = Field(default=None, ge=1, le=1000)
    """Denoising steps: at most 1000, the number of timesteps Stable Diffusion's schedules were trained on."""
    guidance: float | None = Field(default=None, ge=0, le=100)
    """Classifier-free guidance scale (7 is usual; past about 30 pictures burn out)."""
    negative_prompt: str | None = None
    strength: float | None = Field(default=None, gt=0, le=1)
    device: Literal["auto", "cuda", "mps", "cpu"] | None = None
    dtype: Literal["auto", "float16", "bfloat16", "float32"] | None = None
    tile: Pixels | None = None
    """Tile edge in pixels for wide canvases (MultiDiffusion); default: the model's native size. At most
    ``MAX_EDGE``: no tile is larger than the largest canvas."""
    overlap: Pixels | None = None
    """Overlap between neighbouring tiles in pixels (smaller than ``tile``)."""

    def merged_over(self, base: DiffusionSettings) -> DiffusionSettings:
        """These settings, with every unset key taken from ``base``."""
        return base.model_copy(update=self.model_dump(exclude_none=True))


class BackgroundSection(DiffusionSettings):
    source: Literal["procedural", "diffusion", "plate"] = "procedural"
    style: Name = "dusk"
    prompt: str = ""
    seed: Seed = 0
    canvas: Size | None = None
    """The background's size in pixels, each side 1 to ``MAX_EDGE``; the memory a cut needs is checked
    against ``[limits] memory_gb`` when it loads (``loading.peak_memory``)."""
    plate: str | None = None
    layout: str | None = None
    retouch: str | None = None
    hold_missing: bool = False
    """A plate or guide sequence (``bg.%04d.png``) with a gap in its numbers: hold the frame before (instead of
    the error naming the missing frame)."""
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


FLOW_METHODS = ("dis_ultrafast", "dis_fast", "dis_medium", "farneback")
"""Flow estimators on offer; ``bench/flow_presets.py`` measures their end-point error and speed."""

DEFAULT_FLOW = "dis_fast"
"""The pass's and the measurements' flow: at half resolution (720p) as accurate as ``dis_medium`` at a
quarter, for a fifth of ``dis_medium``'s time at half (bench/flow_presets.py, bench/temporal_bench.py)."""


class TemporalSettings(Strict):
    """How the temporal pass runs (``compositor.temporal``); the defaults are what the benchmarks chose.

    The one home of these defaults: a cut's ``[temporal]`` table, ``compositor deflicker``'s options and the
    pass itself all read them from here. Built directly (not from a spec file), a bad value is a `SpecError`
    naming the ``temporal.<key>``.
    """

    strength: float = Field(default=0.5, ge=0, lt=1)
    """Weight of a neighbouring frame carried along the flow, per frame of distance (a frame k away weighs
    strength^k), on both sides in time; 0 leaves the frames as they are."""
    flow: Literal["dis_ultrafast", "dis_fast", "dis_medium", "farneback"] = DEFAULT_FLOW
    """The optical flow on the guide: DIS presets or Farneback."""
    keyframe_interval: int = Field(default=0, ge=0, le=MAX_FRAMES)
    """Every N frames the input passes through unchanged and the recursion restarts (0: never); bounds drift,
    and chunks that start on a keyframe render identically."""
    flow_scale: float = Field(default=0.0, ge=0, le=1)
    """The guide is resized by this for the flow (0: automatic, halving while the shorter side stays at least
    360 px: 0.5 at 1280x720 and 1920x1080, 1 at 854x480)."""
    detail: float = Field(default=1.0, ge=0, le=1)
    """How much fine texture is steadied: 1 all of it; below 1 the frame keeps that share of its own texture
    (its difference from the steadied frame, high-passed at ``lowpass``), for fidelity."""
    occlusion: bool = True
    """Use the forward-backward and motion-boundary checks; false gives the naive average of warped frames that
    trusts the flow everywhere (for comparison)."""
    lowpass: float = Field(default=24.0, gt=0, le=1000)
    """Size in pixels (Gaussian sigma at full resolution) of the high-pass that ``detail`` keeps; at most 1000
    (already a neighbourhood of 6000 px: one colour for most canvases)."""
    window: int = Field(default=16, ge=1, le=MAX_FRAMES)
    """Frames the pass computes together (memory grows with it); each window also reads ``context`` frames
    either side, so that windows are independent (a Dask cluster runs them) and their joins invisible."""
    context: int = Field(default=0, ge=0, le=1000)
    """Frames of context either side of a window (0: automatic, where a frame's weight strength^k falls under
    0.005: 8 at strength 0.5, 24 at 0.8)."""
    paint_every: int = Field(default=0, ge=0, le=1000)
    """Keyframe stylisation: only every Nth frame (and the last, and where the scene changes) is painted; the
    frames between get the paint of both neighbouring keyframes carried along the guide's flow (0: off)."""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise SpecError("\n".join(problem_lines("temporal settings", e, "temporal"))) from None


class TemporalSection(TemporalSettings):
    """A cut's ``[temporal]`` table: the pass's settings, whether it runs, and where motion comes from."""

    # Validated as part of a shot spec, whose errors name the file and key path: not TemporalSettings' own
    # SpecError, which pydantic would fold into one message under ``temporal`` (its lines losing the file).
    __init__ = BaseModel.__init__

    method: Literal["flow", "none"] = "flow"
    guide: str | None = None
    """Where motion comes from: default the plate itself (un-stylised), or another sequence or video."""

    def settings(self) -> TemporalSettings:
        return TemporalSettings(**self.model_dump(include=set(TemporalSettings.model_fields)))


def _frames_increase(keys: list[Any]) -> list[Any]:
    """Keys (camera, motion) in strictly increasing frame order: a key list is a timeline."""
    frames = [k.frame for k in keys]
    if frames != sorted(set(frames)):
        raise ValueError(f"key frames must increase strictly, got {frames}")
    return keys


class CameraKey(Strict):
    frame: FrameNumber
    x: Coordinate
    y: Coordinate
    zoom: float = Field(default=1.0, ge=0.01, le=100)
    """Magnification, 0.01 to 100. At 0.01 a 1280-px frame already shows 128000 px of canvas, eight times the
    largest; the floor also keeps a layer's parallax zoom (``(zoom / first zoom) ** parallax``) finite."""
    rotation: float = Field(default=0.0, ge=-MAX_DEGREES, le=MAX_DEGREES)
    ease: Ease = "linear"


class CameraSection(Strict):
    keys: list[CameraKey] = Field(default_factory=list)

    _keys_in_order = field_validator("keys")(_frames_increase)


class MotionKey(Strict):
    frame: FrameNumber
    x: Coordinate
    y: Coordinate
    ease: Ease = "linear"


class Layer(Strict):
    name: str = Field(min_length=1)
    cels: str
    timing: str | list[int | str]
    key: Literal["alpha", "paper"] = "alpha"
    position: tuple[Coordinate, Coordinate] = (0.0, 0.0)
    """Where the drawing's top-left corner sits on screen at the camera's first key, in frame pixels."""
    motion: list[MotionKey] = Field(default_factory=list)
    """Keys that move ``position`` over the cut (a character crossing the frame)."""
    scale: float = Field(default=1.0, gt=0, le=100)
    """Up to 100 (a small drawing blown up for a close-up); a drawing whose scaled size would not fit in memory
    is refused by name when it is prepared (``cels.MAX_PREPARED_PIXELS``)."""
    parallax: float = Field(default=1.0, ge=-10, le=10)
    """1 moves with the background, 0 is fixed to the screen, 1.3 a BOOK in front; within ±10, so that even
    the widest zoom range raised to it (10^4 ** 10) stays a finite scale."""
    opacity: float = Field(default=1.0, ge=0, le=1)
    blend: Literal["over", "multiply", "screen", "add"] = "over"
    blur: float = Field(default=0.0, ge=0, le=500)
    """Gaussian blur radius in pixels (depth of field on a BOOK layer or a far layer), 0 to 500: wide blurs are
    computed on a reduced copy (``ops.wide_blur``), and the drawing grows by 3 × blur on every side."""

    _motion_in_order = field_validator("motion")(_frames_increase)


TintComponent = Annotated[float, Field(ge=0, le=10)]


class Effect(Strict):
    type: Literal["glow", "vignette", "grain", "grade"]
    strength: float = Field(default=0.5, ge=0, le=10)
    """0 to 10: every effect has saturated (a white glow, a black vignette, grain at 0.5 of full scale) well
    before 10."""
    radius: float = Field(default=24.0, gt=0, le=2000)
    """Glow radius in pixels, up to 2000 (an eighth of the largest frame: a glow that wide is a flat wash)."""
    threshold: float = Field(default=0.7, ge=0, le=1)
    tint: tuple[TintComponent, TintComponent, TintComponent] = (1.0, 1.0, 1.0)
    """Per-channel gain, each 0 to 10 (results are clipped to the picture's range well before that)."""
    seed: Seed = 0


class ShotSpec(Strict):
    shot: ShotSection
    background: BackgroundSection = Field(default_factory=BackgroundSection)
    temporal: TemporalSection | None = None
    camera: CameraSection = Field(default_factory=CameraSection)
    layers: list[Layer] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    encode: Name | None = None
    """A preset in templates/encode/ for one more movie of this cut, beside the edit's."""


# ------------------------------------------------------------------------------------------------------------
# The edit: shots/edit.toml

class EditSection(Strict):
    name: str = Field(default="short", pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = ""
    fps: Fps = 24
    size: Size = (1280, 720)
    encode: Name = "screening"
    cuts: list[str] = Field(min_length=1)
    audio: str | None = None
    roots: list[str] = Field(default_factory=list)
    """Folders outside the production that specs may read from (a shared library of plates, audio); absolute
    or relative to ``shots/``. Anything else a spec names must lie inside the production."""
    slate: float = Field(default=2.0, ge=0, le=600)
    """Seconds of slate (title, date, cut list) before the first cut; 0 for none, at most 10 minutes."""


DEFAULT_MEMORY_GB = 4.0
"""The memory a cut may need by default (``[limits] memory_gb``): what a laptop spares a render."""


class Limits(Strict):
    """``edit.toml``'s ``[limits]``: what this production may ask of the machine rendering it."""

    memory_gb: float = Field(default=DEFAULT_MEMORY_GB, gt=0, le=4096)
    """The most memory (GiB) a cut's render may need, as estimated when the cut loads (``loading.peak_memory``);
    a cut estimated above it is refused before anything renders. Raise it on a machine with more memory."""


class EditSpec(Strict):
    edit: EditSection
    diffusion: DiffusionSettings = Field(default_factory=DiffusionSettings)
    limits: Limits = Field(default_factory=Limits)


# ------------------------------------------------------------------------------------------------------------
# A style: templates/styles/<name>.toml


class PromptFragments(Strict):
    """A style's ``[prompt]`` table: text put around a diffusion cut's prompt, and the negative prompt."""

    prefix: str = ""
    suffix: str = ""
    negative: str = ""


class ProceduralStyle(Strict):
    """A style's ``[procedural]`` table; every key has a default.

    Positions and sizes are fractions of the canvas height (``sun_x`` is a fraction of the canvas width);
    colours are ``"#rrggbb"`` strings in sRGB.
    """

    # The scene
    terrain: Literal["hills", "mountains", "town", "sea"] = "hills"
    horizon: float = Field(default=0.66, ge=0.3, le=0.95)
    """Where the land meets the ground plane, as a fraction of the height from the top."""
    light: float = Field(default=-0.6, ge=-1, le=1)
    """Where the light comes from across the scene: -1 from the left, 1 from the right."""
    texture: Unit = 0.5
    """Painterly texture: soft blotches and paper grain."""

    # Sky
    sky: tuple[Colour, ...] = Field(default=("#3d78c4", "#78aee0", "#bfe0f2", "#e8f3f4"), min_length=2, max_length=8)
    """Gradient stops from the top of the sky down to the horizon."""
    sky_curve: float = Field(default=1.0, gt=0.1, le=5)
    """Above 1 keeps the top colour further down; below 1 lifts the horizon colours."""
    sun: Literal["none", "sun", "moon"] = "sun"
    sun_colour: Colour = "#fff6dc"
    sun_x: float | None = Field(default=None, ge=0, le=1)
    """Across the canvas, as a fraction of its width; default: chosen by the seed."""
    sun_y: float = Field(default=0.2, ge=-0.5, le=1)
    sun_size: float = Field(default=0.035, ge=0, le=0.3)
    """Radius of the disc; 0 for a glow with no disc."""
    glow: float = Field(default=0.5, ge=0, le=2)
    stars: Unit = 0.0

    # Clouds
    clouds: Unit = 0.4
    """How much of the sky the clouds cover."""
    cloud_kind: Literal["cumulus", "streaks", "mixed"] = "cumulus"
    cloud_light: Colour = "#ffffff"
    cloud_shadow: Colour = "#a9bcd8"
    cloud_top: Unit = 0.04
    cloud_bottom: Unit = 0.5
    cloud_scale: float = Field(default=1.0, gt=0.1, le=5)
    towers: Unit = 0.0
    """The chance of a towering cumulonimbus in each stretch of sky."""
    wind: float = Field(default=0.01, ge=-1, le=1)
    """Cloud drift for animated backgrounds, in canvas heights per second (positive: to the right)."""

    # Land (hills, mountains, islands)
    layers: int = Field(default=3, ge=1, le=6)
    relief: float = Field(default=0.2, ge=0, le=0.8)
    """Height of the tallest ridges above the horizon."""
    roughness: Unit = 0.5
    trees: Unit = 0.5
    """Tree lines on the nearer ridges and trees standing in the field or between houses."""
    haze: Unit = 0.6
    """Atmospheric perspective: how far the far layers fade into the haze colour."""
    haze_colour: Colour | None = None
    """Default: the sky's horizon colour."""
    land_far: Colour = "#6d8fb0"
    land_near: Colour = "#3f6b45"
    rim: Unit = 0.5
    """Rim light along the ridges near a low sun."""

    # Town
    density: Unit = 0.6
    """How packed and tall the town is."""
    building_colour: Colour = "#d9d2c3"
    roof_colour: Colour = "#4d5a6e"
    windows: Unit = 0.0
    """The fraction of windows that are lit."""
    window_colour: Colour = "#ffd98a"
    glass_colour: Colour = "#5d7590"
    wall_colour: Colour = "#bdb8ad"
    poles: bool = False
    """Utility poles with sagging wires."""
    pole_colour: Colour = "#3c3f47"
    lamps: bool = False
    lamp_colour: Colour = "#fff1c4"

    # Ground
    ground: Literal["auto", "field", "road", "water"] = "auto"
    """auto: a field for hills and mountains, a road for a town, water for the sea."""
    ground_far: Colour = "#8fb36a"
    ground_near: Colour = "#4f7f3c"
    path: bool = False
    """A winding dirt path across the field."""
    path_colour: Colour = "#cdb98f"

    @model_validator(mode="after")
    def _band_in_order(self) -> ProceduralStyle:
        if self.cloud_top >= self.cloud_bottom:
            raise ValueError(f"cloud_top ({self.cloud_top}) must be above cloud_bottom ({self.cloud_bottom})")
        return self

    @property
    def ground_kind(self) -> str:
        if self.ground != "auto":
            return self.ground
        return {"town": "road", "sea": "water"}.get(self.terrain, "field")


class StyleSpec(Strict):
    """A background style, ``templates/styles/<name>.toml``, with all its sections validated."""

    description: str = ""
    prompt: PromptFragments = Field(default_factory=PromptFragments)
    procedural: ProceduralStyle = Field(default_factory=ProceduralStyle)
    diffusion: DiffusionSettings = Field(default_factory=DiffusionSettings)


# ------------------------------------------------------------------------------------------------------------
# An encode preset: templates/encode/<name>.toml

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
X264_TUNES = ("film", "animation", "grain", "stillimage", "fastdecode", "zerolatency", "psnr", "ssim")
PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le")


class EncodePreset(Strict):
    """An encode preset, ``templates/encode/<name>.toml``. Unknown keys are errors."""

    description: str = ""
    codec: Literal["libx264"] = "libx264"
    crf: float = Field(default=18, ge=0, le=51)
    """x264 constant rate factor: lower is better and bigger (0 is lossless for 8-bit)."""
    preset: Literal[X264_PRESETS] = "medium"  # type: ignore[valid-type]
    """x264 speed/efficiency trade-off."""
    tune: Literal[X264_TUNES] | None = None  # type: ignore[valid-type]
    pix_fmt: Literal[PIX_FMTS] = "yuv420p"  # type: ignore[valid-type]
    gop: int | None = Field(default=None, gt=0, le=MAX_FRAMES)
    """Keyframe interval in frames (``-g``); default: x264's (250). At most the longest cut."""
    segment: int | None = Field(default=None, gt=0, le=MAX_FRAMES)
    """Frames per independently encoded segment (each starts on a keyframe; the movie joins them by stream
    copy, so a change re-encodes only the segments that hold a changed frame). Default: ``gop``, else 48."""
    colorspace: Literal["bt709", "bt601"] = "bt709"
    """The RGB→YUV matrix used, and tagged in the file (primaries and transfer as well)."""
    burn_in: bool = False
    """Burn in the cut name (top left), timesheet frame number (top right), edit title (bottom left)."""
    burn_in_size: float = Field(default=0.04, gt=0, le=0.25)
    """Burn-in text height as a fraction of the frame height (never under 8 px)."""
    audio_codec: Literal["aac"] = "aac"
    audio_bitrate: str = Field(default="192k", pattern=r"^[1-9][0-9]*k$")
    movflags: str = Field(default="+faststart", pattern=r"^[+-]?[a-z_]+([+-][a-z_]+)*$")

    @property
    def subsampling(self) -> tuple[int, int]:
        """Chroma subsampling divisors (horizontal, vertical): the frame's size must be a multiple of them."""
        if self.pix_fmt.startswith("yuv420"):
            return 2, 2
        if self.pix_fmt.startswith("yuv422"):
            return 2, 1
        return 1, 1

    @property
    def segment_frames(self) -> int:
        return self.segment or self.gop or 48
