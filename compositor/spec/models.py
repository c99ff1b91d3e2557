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
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from compositor.errors import SpecError

EASES = ("linear", "in", "out", "in-out", "hold")
BLENDS = ("over", "multiply", "screen", "add", "alpha-add")
EFFECTS = ("glow", "vignette", "grain", "grade")



def _any_kind(annotation: Any, kind: Callable[[Any], bool]) -> bool:
    """Whether a field of this type may hold a value of ``kind`` (one of a union's kinds, through ``Annotated``)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _any_kind(args[0], kind)
    if origin in (Union, UnionType):
        return any(_any_kind(a, kind) for a in args)
    return kind(annotation)


def _true_false_kind(annotation: Any) -> bool:
    if annotation is bool or annotation is Any or annotation is object:
        return True
    if get_origin(annotation) is Literal:
        return any(isinstance(a, bool) for a in get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)  # its own fields say


def _number_kind(annotation: Any) -> bool:
    if get_origin(annotation) is Literal:
        return any(isinstance(a, int | float) and not isinstance(a, bool) for a in get_args(annotation))
    return annotation in (int, float)


def _takes_true_false(annotation: Any) -> bool:
    """Whether a field of this type may hold ``true``/``false`` itself (not as a number)."""
    return _any_kind(annotation, _true_false_kind)


def _takes_number(annotation: Any) -> bool:
    """Whether a field of this type may hold a number (where pydantic would read ``true`` as 1)."""
    return _any_kind(annotation, _number_kind)


def _is_number(annotation: Any) -> bool:
    """Whether a field of this type holds only a number (or nothing): text there can only be a misread number."""
    if annotation in (int, float):
        return True
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _is_number(args[0])
    if origin in (Union, UnionType):
        kinds = [a for a in args if a is not type(None)]
        return bool(kinds) and all(_is_number(a) for a in kinds)
    return False


def _misread_number(value: Any, annotation: Any) -> bool:
    """Whether pydantic would read ``value`` as a number that the user did not write as one: ``true`` as 1,
    the text ``"4"`` as 4."""
    if isinstance(value, bool):
        # Text keys keep pydantic's own line (it refuses true for text): only a number key is told to write one.
        return _takes_number(annotation) and not _takes_true_false(annotation)
    if not isinstance(value, str) or not _is_number(annotation):
        return False
    try:  # other text pydantic refuses in its own words ("lots": "Input should be a valid number")
        float(value)
    except ValueError:
        return False
    return True


class Misread:
    """A value pydantic would read as a number that the user did not write as one (``true`` as 1, ``"4"`` as 4),
    put in its place before validation: it fails there as any other non-number does, so every other problem of
    the spec is still found, and `problem_lines` words its error."""

    __slots__ = ("value",)

    def __init__(self, value: bool | str):
        self.value = value

    @property
    def message(self) -> str:
        if isinstance(self.value, bool):
            return "true/false where a number goes (write the number)"
        return f"{self.value!r} is text where a number goes (write the number without quotes)"

    def __repr__(self) -> str:
        return repr(self.value)


def _marked(value: Any, annotation: Any) -> Any:
    """``value`` with each true/false or text that a field of type ``annotation`` would read as a number replaced
    by a `Misread` (inside lists too: ``timing = [1, true]``, ``size = [32, "24"]``)."""
    if isinstance(value, (bool, str)):
        return Misread(value) if _misread_number(value, annotation) else value
    if not isinstance(value, list):
        return value
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _marked(value, args[0])
    if origin in (Union, UnionType):
        sequences = [a for a in args if get_origin(a) in (list, tuple, Annotated)]
        return _marked(value, sequences[0]) if len(sequences) == 1 else value
    if origin is list and args:
        kinds = [args[0]] * len(value)
    elif origin is tuple and args:
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
    else:
        return value
    return [_marked(item, kind) for item, kind in zip(value, kinds)] + value[len(kinds) :]


MISREAD = "misread_number"
"""The type of the error for a `Misread` inside a key of several kinds (``timing``), located by its ``where``."""


def _several_kinds(annotation: Any) -> bool:
    """Whether a field of this type is a union of more than one kind besides None (``str | list[int | str]``)."""
    if get_origin(annotation) is Annotated:
        return _several_kinds(get_args(annotation)[0])
    return get_origin(annotation) in (Union, UnionType) and len([a for a in get_args(annotation) if a is not type(None)]) > 1


def _misread_at(value: Any, where: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """Where in ``value`` (a list, as `_marked` leaves it) the first `Misread` is, e.g. ``("timing", 1)``."""
    if isinstance(value, Misread):
        return where
    if isinstance(value, list):
        for i, item in enumerate(value):
            if found := _misread_at(item, (*where, i)):
                return found
    return None


def _item(value: Any, where: tuple[str | int, ...]) -> Any:
    for part in where[1:]:
        value = value[part]
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        """``true``/``false`` where a number goes is an error naming the key, not 1 or 0; so is text (``frames =
        "4"``), not 4: a quoted number is a slip (a value pasted from elsewhere, a spreadsheet's export) that
        pydantic's lax mode would take silently. A field with its own before-validator reads its value itself
        (it may take text on purpose) and is left to it."""
        if isinstance(data, dict):
            fields = cls.model_fields
            own = {name for d in cls.__pydantic_decorators__.field_validators.values() if d.info.mode == "before"
                   for name in d.info.fields}
            marked = {}
            for key, value in data.items():
                if key not in fields or key in own:
                    marked[key] = value
                    continue
                marked[key] = _marked(value, fields[key].annotation)
                if _several_kinds(fields[key].annotation) and (where := _misread_at(marked[key], (key,))):
                    # pydantic would report the value once per kind, each under its tag: one line here instead
                    # (the model's other keys go unchecked this time)
                    raise PydanticCustomError(MISREAD, _item(marked[key], where).message, {"where": where})
            data = marked
        return data


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
def _one_a_second(fps: float) -> float:
    if fps < 1:  # passed validate, composited, then failed at the encode ("Invalid argument", under 0.5)
        raise ValueError(f"{fps:g} frames a second: a movie needs at least 1")
    return fps


Fps = Annotated[float, Field(gt=0, le=1000), AfterValidator(_one_a_second)]
"""Frames per second: at least 1 (x264 in an mp4 fails under 0.5), at most 1000 (high-speed footage is
conformed to a normal rate first)."""
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
MAX_CUT_NAME = 100
"""The longest cut (or edit) name: the longest file name made from it (a movie segment's,
``<cut>.<first>-<last>.<key>.mp4``) adds about 50 characters, and most file systems stop at 255."""

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
        if isinstance(item.get("input"), Misread):  # put there by `Strict`: say what it is
            msg = item["input"].message
        if item["type"] == MISREAD:  # found by the model, inside one of its keys
            loc = (*loc, *item["ctx"]["where"])
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling)"
        elif item["type"] == "missing":
            msg = "missing required key"
        lines.append(f"{display}: {key_path(loc, prefix)}: {msg}")
    return list(dict.fromkeys(lines))  # a union's members may each refuse one value


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


class LoraSpec(Strict):
    """One LoRA laid over the diffusion model: ``{ path = "models/studio_bg.safetensors", weight = 0.8 }``."""

    path: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=-10, le=10)
    """How strongly the LoRA applies (1 as trained; 0.5-0.9 is usual for a look; negative pushes away from it)."""


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
    config: str | None = None
    """For a single-file checkpoint (``model = "models/x.safetensors"``): a diffusers folder whose configs and
    tokenizers describe it; default: the ones shipped for the family the file's keys show (SD 1.x, SDXL)."""
    lora: list[LoraSpec] | None = Field(default=None, max_length=16)
    """LoRAs laid over the model in order; the cut's list replaces the style's, the style's the edit's."""

    def merged_over(self, base: DiffusionSettings) -> DiffusionSettings:
        """These settings, with every unset key taken from ``base``."""
        # the values themselves, not their dump: a dumped table (a LoRA) would come back as a plain dict
        return base.model_copy(
            update={name: value for name in type(self).model_fields if (value := getattr(self, name)) is not None}
        )


MAX_FEATHER = 512
"""The widest feathered edge of an inpaint mask in pixels: a soft edge wider than a quarter of a 2K frame is no
longer an edge; the mask's blur costs grow with it."""


class InpaintPass(Strict):
    """One region retouch of a diffusion background: regenerate what lies under ``mask`` (white: regenerate, black
    or transparent: keep), blended in over ``feather`` pixels; every pixel further out stays as it was."""

    mask: str
    """An image the canvas's size (paint it over `compositor bg <cut> --export`), in the production."""
    prompt: str = ""
    """What to paint there; empty: the cut's prompt. The style's prefix and suffix wrap it as they wrap the cut's."""
    negative_prompt: str | None = None
    strength: float = Field(default=0.75, gt=0, le=1)
    """How much of the region is repainted: 1 from noise, 0.3 keeps its colours and shapes."""
    feather: int = Field(default=8, ge=0, le=MAX_FEATHER)
    """The soft edge in pixels, grown outward from the mask (0: a hard edge)."""
    steps: int | None = Field(default=None, ge=1, le=1000)
    seed: Seed | None = None
    """Default: the cut's seed."""
    model: str | None = None
    """An inpainting model (9-channel UNet) or any model of the cut's family; default: the cut's model."""


class RefinePass(Strict):
    """A second image-to-image pass over the whole generated image (a finishing pass at low strength)."""

    strength: float = Field(default=0.3, gt=0, le=1)
    steps: int | None = Field(default=None, ge=1, le=1000)
    model: str | None = None
    """Default: the cut's model."""
    prompt: str | None = None
    """Default: the cut's prompt (with its style's fragments)."""


class HiresPass(Strict):
    """Generate at ``1 / scale`` of the canvas, upscale, and add detail with tiled image-to-image."""

    scale: float = Field(default=2.0, gt=1, le=4)
    """How much larger the canvas is than the generated image; at most 4 (past that the upscale only blurs, and
    the pass would have to invent nearly everything)."""
    strength: float = Field(default=0.35, gt=0, le=1)
    steps: int | None = Field(default=None, ge=1, le=1000)


class StyleReference(Strict):
    """An IP-Adapter style reference: a colour script or reference board that guides the look."""

    image: str
    """The reference picture, in the production."""
    weights: str
    """The IP-Adapter folder: one ``ip-adapter*.safetensors`` (or ``.bin``) and an ``image_encoder/`` folder."""
    scale: float = Field(default=0.6, ge=0, le=2)
    """How strongly the reference steers (0: not at all, 1: as trained; past 2 the prompt is lost)."""


INPAINT_EXAMPLE = '{ mask = "plates/fix.png", prompt = "a lit window", strength = 0.75, feather = 8 }'


def _one_or_many(value: Any) -> Any:
    """``inpaint = { ... }`` is one pass: the same as a list of one."""
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise ValueError(f"expected a table like {INPAINT_EXAMPLE}, or a list of them")
    return value


def _image_or_table(value: Any) -> Any:
    """``reference = "plates/x.png"`` names only the image; the table form adds the weights and scale."""
    if isinstance(value, str):
        return {"image": value}
    if not isinstance(value, dict):
        raise ValueError(
            'expected a table like { image = "plates/colour_script.png", weights = "models/ip-adapter", scale = 0.6 }'
        )
    return value


def _table_like(example: str) -> Any:
    def check(value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"expected a table like {example}")
        return value

    return check


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
    inpaint: list[InpaintPass] = Field(default_factory=list, max_length=64)
    """Region retouches, applied in order on top of the generated image (diffusion only)."""
    refine: RefinePass | None = None
    hires: HiresPass | None = None
    reference: StyleReference | None = None

    _inpaint_list = field_validator("inpaint", mode="before")(_one_or_many)
    _reference_table = field_validator("reference", mode="before")(_image_or_table)
    _refine_table = field_validator("refine", mode="before")(_table_like("{ strength = 0.3 }"))
    _hires_table = field_validator("hires", mode="before")(_table_like("{ scale = 2, strength = 0.35 }"))
    plate_colourspace: str | None = None
    """The OpenColorIO colour space the plate's files are in (e.g. ``"ACEScg"``), converted to the working space
    (``[colour] working_space`` in edit.toml) as they are read. Default: sRGB / Rec.709 as stored (8- and 16-bit
    files display-referred, OpenEXR linear), which needs no config."""

    @model_validator(mode="after")
    def _source_needs(self) -> BackgroundSection:
        if self.source == "plate" and not self.plate:
            raise ValueError('source = "plate" needs a `plate` key (an image, a sequence like bg.%04d.png, or a video)')
        if self.per_frame and self.source != "diffusion":
            raise ValueError('`per_frame` only applies to source = "diffusion"')
        for key in ("inpaint", "refine", "hires", "reference"):
            if getattr(self, key) and self.source != "diffusion":
                raise ValueError(f'`{key}` only applies to source = "diffusion" (a generated background)')
        return self


FLOW_METHODS = ("dis_ultrafast", "dis_fast", "dis_medium", "farneback")
"""Flow estimators on offer; ``bench/flow_presets.py`` measures their end-point error and speed."""

DEFAULT_FLOW = "dis_fast"
"""The pass's and the measurements' flow: at half resolution (720p) as accurate as ``dis_medium`` at a
quarter, for a fifth of ``dis_medium``'s time at half (bench/flow_presets.py, bench/temporal_bench.py).
Farneback is on offer but never the default: it is the flow the issue's E_warp is measured with, so a pass along
it scores well by agreeing with the metric (blackswan Reinhard 0.20 against DIS's 0.33 of the input's E_warp),
while on MPI-Sintel's ground truth it is the least accurate of the four (bench/flow_presets.py) and, measured
along an independent fine DIS flow, no steadier than DIS (0.32 against 0.37, where ``dis_medium`` gives 0.29)."""


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
    margin: int = Field(default=0, ge=0, le=8)
    """Flow pixels taken off the edges of the region whose flow passes the occlusion test before the pass
    trusts it (0: the test's own mask). It was 1: that left a band around every occlusion unsmoothed, for no
    fidelity (bench/temporal_bench.py; README "Temporal pass")."""
    paint_every: int = Field(default=0, ge=0, le=1000)
    """Keyframe stylisation: only every Nth frame (counted from the last painted; and the last, and where the
    scene changes) is painted; the frames between get the paint of both neighbouring keyframes carried along the
    guide's flow (0: off)."""

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


# ------------------------------------------------------------------------------------------------------------
# Camera work and focus (撮影): tracks, shake, follow shots, streaked backgrounds, motion blur, depth of field.
# They live in the cut's [camera] table (``CameraWork``) and on each layer (``LayerCameraWork``); the ops are
# ``compositor.core.photography.camera_work``.

CURVES = ("linear", "ease-in", "ease-out", "ease-in-out", "sine-in", "sine-out", "sine-in-out", "custom")
"""Easing curves of a track: cubic ``ease-*``, sinusoidal ``sine-*``, or ``custom`` through ``points``."""

MAX_SLIDE = 4000.0
"""A slide speed in px per frame: a 4K frame's width in one frame is already a blur, not a move."""

DepthValue = Annotated[float, Field(ge=-10, le=10)]
"""A depth on the multiplane, in parallax units (1 the background, 1.3 a BOOK in front): within parallax's
range."""


def _window_in_order(model: Any) -> Any:
    if model.start is not None and model.end is not None and model.end < model.start:
        raise ValueError(f"end ({model.end}) is before start ({model.start})")
    return model


class Track(Strict):
    """A track-in (``zoom`` above 1) or track-back (below 1), optionally with a pan and a turn, laid over the
    keyed camera from ``start`` to ``end``: nothing before ``start``, all of it from ``end`` on."""

    start: FrameNumber
    end: FrameNumber
    zoom: float = Field(default=1.0, ge=0.01, le=100)
    """The factor the keyed zoom is multiplied by once the track is done."""
    x: Coordinate = 0.0
    """Canvas pixels the camera's centre moves by (added to the keyed ``x``)."""
    y: Coordinate = 0.0
    rotation: float = Field(default=0.0, ge=-MAX_DEGREES, le=MAX_DEGREES)
    curve: Literal[CURVES] = "ease-in-out"  # type: ignore[valid-type]
    points: list[tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=-1, le=2)]]] | None = Field(
        default=None, min_length=2, max_length=64
    )
    """``curve = "custom"``: ``[[t, value], ...]`` from ``t = 0`` to ``t = 1``, t increasing; values may
    overshoot (-1 to 2). Interpolated by a monotone cubic, so points that rise give a curve that rises."""

    @model_validator(mode="after")
    def _checks(self) -> Track:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if (self.curve == "custom") != (self.points is not None):
            raise ValueError('`points` goes with curve = "custom" (and custom needs points)')
        if self.points is not None:
            ts = [t for t, _ in self.points]
            if ts[0] != 0 or ts[-1] != 1 or any(b <= a for a, b in zip(ts, ts[1:])):
                raise ValueError(f"points: t must run from 0 to 1 and increase strictly, got {ts}")
            if self.points[0][1] != 0 or self.points[-1][1] != 1:
                raise ValueError("points: the curve must start at [0, 0] and end at [1, 1] (a track starts at "
                                 "nothing and ends at all of it)")
        return self


class Shake(Strict):
    """Camera shake (画面動): the picture jolts on screen by smooth seeded noise."""

    amplitude: float = Field(default=4.0, ge=0, le=1000)
    """Screen pixels the picture moves at most (each axis); 0 is no shake."""
    frequency: float = Field(default=8.0, gt=0, le=120)
    """New jolts per second (the noise's knots); above half the frame rate it changes every frame."""
    decay: float = Field(default=0.0, ge=0, le=100)
    """How fast the shake dies away: the amplitude is ``exp(-decay * seconds since start)``."""
    rotation: float = Field(default=0.0, ge=0, le=45)
    """Degrees the picture turns at most about the frame's centre."""
    seed: Seed = 0
    start: FrameNumber | None = None
    """First frame shaken (default: the cut's first)."""
    end: FrameNumber | None = None
    """Last frame shaken (default: the cut's last)."""
    layers: list[str] = Field(default_factory=list)
    """Layer names to shake (``"background"`` is the background); empty: the whole frame."""

    _window = model_validator(mode="after")(_window_in_order)


class Follow(Strict):
    """A follow shot (追っかけ): the camera follows a character, so the world slides past on screen."""

    speed: tuple[
        Annotated[float, Field(ge=-MAX_SLIDE, le=MAX_SLIDE)], Annotated[float, Field(ge=-MAX_SLIDE, le=MAX_SLIDE)]
    ]
    """Screen pixels per frame the background slides (x, y); a layer slides ``speed * parallax`` unless it
    sets its own ``slide`` (parallax 0, the character, stays put)."""
    start: FrameNumber | None = None
    end: FrameNumber | None = None

    _window = model_validator(mode="after")(_window_in_order)


class MotionBlur(Strict):
    """Motion blur: each frame the average of ``samples`` instants spread over the shutter's opening."""

    samples: int = Field(default=8, ge=2, le=64)
    shutter: float = Field(default=180.0, gt=0, le=720)
    """Shutter angle in degrees: 360 is open the whole frame, 180 half of it (centred on the frame)."""


class Streak(Strict):
    """A fast pan's streaked background (流背 / BG slide blur): the background blurred along the motion."""

    length: float = Field(default=60.0, gt=0, le=1000)
    """Streak length in screen pixels, at most 1000 (longer is a flat wash across any frame's width)."""
    angle: float | None = Field(default=None, ge=-360, le=360)
    """Degrees (0 along +x, 90 down the screen); default: the way the background moves on that frame (no
    streak on a frame where it stands still)."""
    start: FrameNumber | None = None
    end: FrameNumber | None = None

    _window = model_validator(mode="after")(_window_in_order)


class FocusKey(Strict):
    frame: FrameNumber
    depth: DepthValue
    ease: Ease = "linear"


class Focus(Strict):
    """Depth of field: a layer's blur grows with the distance between its depth and the focus depth."""

    keys: list[FocusKey] = Field(min_length=1)
    """The focus depth over time (a rack focus is two keys)."""
    blur: float = Field(default=8.0, ge=0, le=500)
    """Blur radius in px per unit of depth away from the focus (the aperture)."""
    max_blur: float = Field(default=60.0, ge=0, le=500)
    background_depth: DepthValue = 1.0

    _keys_in_order = field_validator("keys")(_frames_increase)


class BlurKey(Strict):
    frame: FrameNumber
    blur: float = Field(ge=0, le=500)
    ease: Ease = "linear"


class CameraWork(Strict):
    """The camera-work keys of a cut's ``[camera]`` table."""

    tracks: list[Track] = Field(default_factory=list, max_length=64)
    shake: list[Shake] = Field(default_factory=list, max_length=64)
    follow: Follow | None = None
    motion_blur: MotionBlur | None = None
    """Motion blur for the background and every layer (a layer may turn it off or set its own)."""
    streak: Streak | None = None
    focus: Focus | None = None


class LayerCameraWork(Strict):
    """The camera-work keys of a layer."""

    slide: tuple[
        Annotated[float, Field(ge=-MAX_SLIDE, le=MAX_SLIDE)], Annotated[float, Field(ge=-MAX_SLIDE, le=MAX_SLIDE)]
    ] | None = None
    """Screen pixels per frame this layer slides in a follow shot (a BOOK faster than the background)."""
    motion_blur: bool | MotionBlur | None = None
    """true: blurred with the cut's settings (or the defaults); false: never; a table: its own settings;
    unset: as the cut's ``[camera.motion_blur]``."""
    depth: DepthValue | None = None
    """Depth for ``[camera.focus]``, in parallax units; default: the layer's parallax."""
    blur_keys: list[BlurKey] = Field(default_factory=list)
    """A blur radius keyed over time (added to the depth of field's in quadrature)."""

    _blur_keys_in_order = field_validator("blur_keys")(_frames_increase)


LAYER_CAMERA_KEYS = frozenset(LayerCameraWork.model_fields)
"""The layer keys above: they enter a frame's key through ``core.photography.camera_work`` (per frame), not the layer's dump."""


def camera_work_problems(spec: ShotSpec) -> list[tuple[str, str]]:
    """``(key path, problem)`` for camera work that names what the cut does not have."""
    names = {layer.name for layer in spec.layers}
    problems = []
    for i, shake in enumerate(spec.camera.shake):
        for j, name in enumerate(shake.layers):
            if name not in names and name != "background":
                problems.append((f"camera.shake[{i}].layers[{j}]", f"no layer named {name!r} (have: "
                                 f"{', '.join(sorted(names)) or 'none'}, and \"background\")"))
    return problems


class CameraKey(Strict):
    frame: FrameNumber
    x: Coordinate
    y: Coordinate
    zoom: float = Field(default=1.0, ge=0.01, le=100)
    """Magnification, 0.01 to 100. At 0.01 a 1280-px frame already shows 128000 px of canvas, eight times the
    largest; the floor also keeps a layer's parallax zoom (``(zoom / first zoom) ** parallax``) finite."""
    rotation: float = Field(default=0.0, ge=-MAX_DEGREES, le=MAX_DEGREES)
    ease: Ease = "linear"


class CameraSection(CameraWork):
    keys: list[CameraKey] = Field(default_factory=list)

    _keys_in_order = field_validator("keys")(_frames_increase)


class MotionKey(Strict):
    frame: FrameNumber
    x: Coordinate
    y: Coordinate
    ease: Ease = "linear"



# ------------------------------------------------------------------------------------------------------------
# Light, tone and finishing on cels (影・ハイライト, 透過光, パラ, 入射光, 仕上げ): compositor.core.photography.tone
# and compositor.core.fill do the work; here are their keys.

TintComponent = Annotated[float, Field(ge=0, le=10)]
Timing = str | list[int | str]


class ValueKey(Strict):
    """A keyed number over the cut (a light's flicker): interpolated like camera keys, with the next key's
    ``ease``."""

    frame: FrameNumber
    value: float = Field(ge=0, le=10)
    ease: Ease = "linear"


class Shade(Strict):
    """A shadow or highlight (影・ハイライト) of a layer: a matte drawing laid on the cel it belongs to and
    clipped to that cel's alpha; the matte's alpha (or, for a drawing with no transparency, its darkness)
    says where."""

    cels: str
    """A folder of matte drawings, drawn on the same sheet as the layer's (same size and registration)."""
    timing: Timing | None = None
    """The matte's own timing; default: the layer's."""
    colour: Colour = "#4a3d6b"
    opacity: Unit = 0.6
    blend: Literal["multiply", "screen", "add", "over"] = "multiply"
    """``multiply`` for a shadow, ``screen`` or ``add`` for a highlight, ``over`` paints the colour."""
    softness: float = Field(default=0.0, ge=0, le=100)
    """Blur of the matte's edge in pixels (0: as drawn)."""


class Fill(Strict):
    """Finishing the drawing (仕上げ): the closed regions of its line art filled, the lines recoloured."""

    colour: Colour | None = None
    """One colour for every closed region (and for regions the colour key leaves unpainted)."""
    key: str | None = None
    """A folder of colour-key drawings (a rough colour scribble on the same sheet): each region takes the
    colour painted inside it. Drawing N uses key N, else the folder's first key."""
    gap: int = Field(default=3, ge=0, le=64)
    """Gaps in the line up to this many pixels are closed before the regions are found."""
    threshold: float = Field(default=0.4, gt=0, le=1)
    """A pixel is line where the drawing's alpha is at least this."""
    lines: Colour | None = None
    """Recolour the lines (色トレス), keeping their alpha; default: as drawn."""

    @model_validator(mode="after")
    def _does_something(self) -> Fill:
        if self.colour is None and self.key is None and self.lines is None:
            raise ValueError("a fill needs `colour`, `key` or `lines`")
        return self


class Adjust(Strict):
    """Per-layer colour correction, beside the frame-wide grade: levels, then tint, then saturation."""

    black: Unit = 0.0
    """Input level mapped to black."""
    white: Unit = 1.0
    """Input level mapped to white (above ``black``)."""
    gamma: float = Field(default=1.0, ge=0.1, le=10)
    tint: tuple[TintComponent, TintComponent, TintComponent] = (1.0, 1.0, 1.0)
    saturation: float = Field(default=1.0, ge=0, le=4)

    @model_validator(mode="after")
    def _levels_in_order(self) -> Adjust:
        if self.white <= self.black:
            raise ValueError(f"white ({self.white}) must be above black ({self.black})")
        return self


class TransmittedLight(Strict):
    """Transmitted light (透過光): the layer's drawings are light sources (a matte: where alpha is), which
    glow with a hot core and a wide halo and are added to the frame instead of laid over it."""

    colour: Colour = "#ffe6b0"
    strength: float = Field(default=1.0, ge=0, le=10)
    core: float = Field(default=2.0, ge=0, le=200)
    """Radius in pixels of the white-hot core."""
    halo: float = Field(default=40.0, gt=0, le=2000)
    """Radius in pixels of the coloured halo."""
    flicker: list[ValueKey] = Field(default_factory=list)
    """Keys multiplying ``strength`` over the cut (1 = as set)."""
    jitter: Unit = 0.0
    """A seeded random flicker on top: each frame's strength is scaled by 1 - jitter · u, u in [0, 1)."""
    seed: Seed = 0

    _flicker_in_order = field_validator("flicker")(_frames_increase)


class Para(Strict):
    """Para (パラ): a linear or radial gradient over chosen layers (clipped to them) or the whole frame."""

    layers: list[str] = Field(default_factory=list)
    """Layer names; empty: the whole frame (background included)."""
    shape: Literal["linear", "radial"] = "linear"
    start: tuple[Coordinate, Coordinate] = (0.0, 0.0)
    """In frame pixels: where the first colour is (linear), or the centre (radial)."""
    end: tuple[Coordinate, Coordinate] = (0.0, 720.0)
    """Where the last colour is (linear), or a point on the outer rim (radial)."""
    colours: list[Colour] = Field(default_factory=lambda: ["#ffb070", "#304080"], min_length=2, max_length=8)
    opacity: Unit = 0.5
    blend: Literal["multiply", "screen", "add", "over"] = "multiply"

    @model_validator(mode="after")
    def _has_length(self) -> Para:
        if self.start == self.end:
            raise ValueError("`start` and `end` must differ")
        return self


class LensKey(Strict):
    frame: FrameNumber
    x: Coordinate
    y: Coordinate
    strength: float = Field(default=1.0, ge=0, le=10)
    ease: Ease = "linear"


class LensLight(Strict):
    """Lens light (入射光): a flare or a light leak at a keyed place on screen (frame pixels), added."""

    kind: Literal["flare", "leak"] = "flare"
    keys: list[LensKey] = Field(min_length=1)
    colour: Colour = "#ffd9a0"
    size: float = Field(default=160.0, gt=0, le=8000)
    """Radius in pixels of the flare's glow or the leak's wash."""

    _keys_in_order = field_validator("keys")(_frames_increase)


class Layer(LayerCameraWork):
    name: str = Field(min_length=1)
    cels: str
    timing: str | list[int | str] | None = None
    """The layer's timesheet (``compositor.core.timesheet``); without it the layer takes its timing from the
    cut's XDTS ``timesheet``: the cel track named like the layer, or ``track``."""
    track: str | None = Field(default=None, min_length=1)
    """The cel track of the cut's XDTS ``timesheet`` that times this layer (default: the layer's ``name``)."""
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
    blend: Literal["over", "multiply", "screen", "add", "alpha-add"] = "over"
    """``alpha-add``: consecutive such layers are summed, coverage too (two 50% cels in a dissolve make full
    coverage), and laid over what is under them as one."""
    blur: float = Field(default=0.0, ge=0, le=500)
    """Gaussian blur radius in pixels (depth of field on a BOOK layer or a far layer), 0 to 500: wide blurs are
    computed on a reduced copy (``ops.wide_blur``), and the drawing grows by 3 × blur on every side."""

    shade: list[Shade] = Field(default_factory=list)
    """Shadows and highlights on this layer's cels (影・ハイライト)."""
    fill: Fill | None = None
    """Fill the closed regions of the line art, recolour the lines (仕上げ)."""
    adjust: Adjust | None = None
    """Colour correction of this layer alone."""
    light: TransmittedLight | None = None
    """The drawings are light sources (透過光): they glow and are added."""

    _motion_in_order = field_validator("motion")(_frames_increase)

    @model_validator(mode="after")
    def _one_timing(self) -> Layer:
        if self.timing is not None and self.track is not None:
            raise ValueError("give `timing` or `track` (a track of the cut's XDTS timesheet), not both")
        return self


TONE_LAYER_KEYS = ("shade", "fill", "adjust", "light")
"""Layer keys of light and tone: left out of a frame's key while unset, so older cuts keep their keys."""


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


FRAME_FORMATS = ("png8", "png16", "exr")


class OutputSettings(Strict):
    """``[output]`` in edit.toml (for every cut) and shot.toml (this cut; wins over the edit's): what a comp
    frame file holds. Unset keys fall through to the edit's, then to the defaults (`resolved`)."""

    frames: Literal["png8", "png16", "exr"] | None = None
    """Comp frames as 8-bit PNG (default), 16-bit PNG, or OpenEXR half float (linear light, as EXR is read)."""
    alpha: bool | None = None
    """Keep the comp's alpha (default false: flattened over black): frames are RGBA, a preset whose pix_fmt
    carries alpha (``yuva444p10le``: ProRes 4444) keeps it, and a plate's transparency is kept (else plates
    are made opaque)."""

    def merged_over(self, base: OutputSettings) -> OutputSettings:
        return base.model_copy(update=self.model_dump(exclude_none=True))

    def resolved(self) -> OutputSettings:
        """Every key set: these over the defaults (8-bit PNG, no alpha)."""
        return self.merged_over(OutputSettings(frames="png8", alpha=False))


class ColourSettings(Strict):
    """``[colour]`` in shot.toml (and, with more keys, edit.toml): how the cut is composited."""

    linear: bool | None = None
    """Composite in linear light: the background's view and the drawings are converted from sRGB to linear,
    laid (blends, resampling, opacity) and converted back before the effects. Default false (the sRGB
    values as stored, as most 2D tools do)."""


class EditColour(ColourSettings):
    """edit.toml's ``[colour]``: the OpenColorIO config for plates in other colour spaces, and ``linear`` for
    every cut (a cut's own ``[colour] linear`` wins)."""

    config: str | None = None
    """An OpenColorIO config file (relative to ``shots/``), or ``"ocio://default"`` for OCIO's built-in CG config.
    Only needed by plates that name a ``plate_colourspace``."""
    working_space: str = Field(default="sRGB - Texture", min_length=1)
    """The config's name for what the compositor works in (sRGB-encoded Rec.709)."""


class EncodeSettings(Strict):
    """edit.toml's ``[encode]``: the production's choice of tools for every movie."""

    ffmpeg: str | None = None
    """The ffmpeg to run: a path (absolute, or relative to ``shots/``) or a command name looked up on PATH.
    Default: the static build imageio-ffmpeg ships (the same on every machine); a system ffmpeg is never
    picked up unless named here (or by ``$COMPOSITOR_FFMPEG``)."""


class ShotSpec(Strict):
    shot: ShotSection
    background: BackgroundSection = Field(default_factory=BackgroundSection)
    temporal: TemporalSection | None = None
    camera: CameraSection = Field(default_factory=CameraSection)
    layers: list[Layer] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    para: list[Para] = Field(default_factory=list)
    """Gradients over layers or the whole frame (パラ), in order, before the effects."""
    lens: list[LensLight] = Field(default_factory=list)
    """Lens flares and light leaks (入射光), after the para, before the effects."""
    encode: Name | None = None
    """A preset in templates/encode/ for one more movie of this cut, beside the edit's."""
    timesheet: str | None = None
    """An XDTS timesheet (``.xdts``, from CLIP STUDIO PAINT, OpenToonz, ...) that times the layers without a
    ``timing`` (``compositor.core.xdts``)."""
    output: OutputSettings = Field(default_factory=OutputSettings)
    colour: ColourSettings = Field(default_factory=ColourSettings)


# ------------------------------------------------------------------------------------------------------------
# The edit: shots/edit.toml

class EditSection(Strict):
    name: str = Field(default="short", pattern=r"^[A-Za-z0-9_.-]+$", max_length=MAX_CUT_NAME)
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
    start_timecode: str = Field(default="01:00:00:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9][:;][0-9]{2}$")
    """The record timecode of the screening cut's first frame (the slate's) in the EDL and OTIO: productions
    start at 01:00:00:00. Burn-ins show record timecode from it."""
    drop_frame: bool = False
    """Drop-frame timecode (``FCM: DROP FRAME``) in the EDL and OTIO; only at 29.97 or 59.94 fps."""
    version: str = Field(default="", max_length=40, pattern=r"^[^\x00-\x1f\x7f]*$")
    """The version or take burnt in beside the cut name and shown on the slate (``"v003"``, ``"take 2"``)."""
    font: str | None = None
    """A font file (TTF/OTF, relative to ``shots/`` or in ``roots``) for burn-ins and the slate, instead of
    the shipped Noto Sans Mono CJK JP subset (Latin, kana, JIS level-1 kanji)."""

    @model_validator(mode="after")
    def _timecode_fits(self) -> EditSection:
        nominal = round(self.fps)
        if self.drop_frame and nominal not in (30, 60) or self.drop_frame and abs(self.fps - nominal) < 1e-3:
            raise ValueError(f"drop_frame: drop-frame timecode is for 29.97 or 59.94 fps, not {self.fps:g}")
        hours, frames = int(self.start_timecode[:2]), int(self.start_timecode[9:])
        if hours > 23 or frames >= nominal:
            raise ValueError(f"start_timecode: {self.start_timecode!r} is not a timecode at {self.fps:g} fps")
        return self


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
    output: OutputSettings = Field(default_factory=OutputSettings)
    colour: EditColour = Field(default_factory=EditColour)
    encode: EncodeSettings = Field(default_factory=EncodeSettings)


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
PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le", "yuva444p10le")
CODECS = ("libx264", "libx265", "prores_ks", "dnxhd")
CONTAINERS = ("mp4", "mov", "mxf", "mkv")
PRORES_PROFILES = {"proxy": "422", "lt": "422", "standard": "422", "hq": "422", "4444": "444", "4444xq": "444"}
DNXHR_PROFILES = {"dnxhr_lb": "yuv422p", "dnxhr_sq": "yuv422p", "dnxhr_hq": "yuv422p", "dnxhr_hqx": "yuv422p10le",
                  "dnxhr_444": "yuv444p10le"}
"""Each DNxHR profile's one pixel format (ffmpeg's dnxhd encoder takes no other)."""
_CONTAINERS_OF = {"libx264": ("mp4", "mov", "mkv"), "libx265": ("mp4", "mov", "mkv"), "prores_ks": ("mov", "mkv"),
                  "dnxhd": ("mov", "mxf")}
_RATE_KEYS = ("crf", "preset", "tune")
MOVFLAGS = ("faststart", "frag_keyframe", "empty_moov", "separate_moof", "default_base_moof", "frag_every_frame",
            "frag_custom", "frag_discont", "delay_moov", "global_sidx", "skip_sidx", "skip_trailer", "dash", "cmaf",
            "isml", "rtphint", "disable_chpl", "omit_tfhd_offset", "write_colr", "write_gama", "prefer_icc",
            "use_metadata_tags", "negative_cts_offsets", "hybrid_fragmented")
"""The flags of ffmpeg's mov/mp4 muxer (``ffmpeg -h muxer=mp4``, ffmpeg 7-9)."""


class EncodePreset(Strict):
    """An encode preset, ``templates/encode/<name>.toml``. Unknown keys are errors."""

    description: str = ""
    codec: Literal["libx264", "libx265", "prores_ks", "dnxhd"] = "libx264"
    """H.264 / H.265 (review, screening), ProRes (``prores_ks``) or DNxHR (``dnxhd``) for finishing."""
    profile: str | None = None
    """ProRes: proxy, lt, standard, hq, 4444, 4444xq (default: hq, or 4444 for a 4:4:4 pix_fmt); DNxHR:
    dnxhr_lb, dnxhr_sq, dnxhr_hq, dnxhr_hqx, dnxhr_444 (required). Not for H.264/H.265."""
    container: Literal["mp4", "mov", "mxf", "mkv"] = "mp4"
    """The movie's file type (and suffix): mp4 or mov for H.264/H.265, mov for ProRes, mov or mxf for DNxHR."""
    crf: float = Field(default=18, ge=0, le=51)
    """x264/x265 constant rate factor: lower is better and bigger (0 is lossless for 8-bit)."""
    preset: Literal[X264_PRESETS] = "medium"  # type: ignore[valid-type]
    """x264/x265 speed/efficiency trade-off."""
    tune: Literal[X264_TUNES] | None = None  # type: ignore[valid-type]
    pix_fmt: Literal[PIX_FMTS] = "yuv420p"  # type: ignore[valid-type]
    """``yuva444p10le`` (ProRes 4444 only) keeps the comp's alpha when the cut asks for it (``[output] alpha``);
    for a cut that does not, the movie is ``yuv444p10le``."""
    gop: int | None = Field(default=None, gt=0, le=MAX_FRAMES)
    """Keyframe interval in frames (``-g``); default: x264's (250). At most the longest cut."""
    segment: int | None = Field(default=None, gt=0, le=MAX_FRAMES)
    """Frames per independently encoded segment (each starts on a keyframe; the movie joins them by stream
    copy, so a change re-encodes only the segments that hold a changed frame). Default: ``gop``, else 48."""
    colorspace: Literal["bt709", "bt601"] = "bt709"
    """The RGB→YUV matrix used, and tagged in the file (primaries and transfer as well)."""
    burn_in: bool = False
    """Burn in the cut name and ``edit.version`` (top left), the timesheet frame number (top right), the edit's
    title (bottom left), the record timecode (bottom right)."""
    burn_in_size: float = Field(default=0.04, gt=0, le=0.25)
    """Burn-in text height as a fraction of the frame height (never under 8 px)."""
    burn_in_layout: Literal["corners", "letterbox"] = "corners"
    """``corners``: each text in a translucent box in a corner of the picture; ``letterbox``: opaque black
    bands over the top and bottom of the picture (``burn_in_band`` high), the texts in them."""
    burn_in_band: float = Field(default=0.08, gt=0, le=0.25)
    """Height of each letterbox band as a fraction of the frame height (``letterbox`` only)."""
    burn_in_timecode: bool = True
    """Burn in the record timecode (bottom right) from ``edit.start_timecode``: where the frame sits in the
    screening cut. A cut's movie then depends on the lengths of the cuts before it."""
    audio_codec: Literal["aac"] = "aac"
    audio_bitrate: str = Field(default="192k", pattern=r"^[1-9][0-9]*k$")
    movflags: str = Field(default="+faststart", pattern=r"^[+-]?[a-z_]+([+-][a-z_]+)*$")
    """ffmpeg's mov/mp4 muxer flags (``MOVFLAGS``); one it does not know failed only at the encode, as
    "Could not write header", naming neither the preset nor the key."""

    @field_validator("movflags")
    @classmethod
    def _known_movflags(cls, value: str) -> str:
        unknown = [flag for flag in re.split(r"[+-]", value) if flag and flag not in MOVFLAGS]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))}: not a flag of ffmpeg's mp4/mov muxer ({', '.join(MOVFLAGS)})")
        return value

    @model_validator(mode="after")
    def _codec_fits(self) -> EncodePreset:
        if self.container not in _CONTAINERS_OF[self.codec]:
            raise ValueError(f"container {self.container!r} cannot hold {self.codec} (use {' or '.join(_CONTAINERS_OF[self.codec])})")
        intra = self.codec in ("prores_ks", "dnxhd")
        if intra and (given := [k for k in _RATE_KEYS if k in self.model_fields_set]):
            raise ValueError(f"{', '.join(given)}: x264/x265 settings, not for {self.codec}")
        if self.pix_fmt.startswith("yuva") and self.codec != "prores_ks":
            raise ValueError(f"pix_fmt {self.pix_fmt!r} (alpha) needs codec = \"prores_ks\" (ProRes 4444)")
        if self.codec == "prores_ks":
            profile = self.profile or ("4444" if "444" in self.pix_fmt else "hq")
            if profile not in PRORES_PROFILES:
                raise ValueError(f"profile {profile!r} is not a ProRes profile ({', '.join(PRORES_PROFILES)})")
            chroma = "444" if "444" in self.pix_fmt else "422" if "422" in self.pix_fmt else None
            if chroma != PRORES_PROFILES[profile] or "10le" not in self.pix_fmt:
                want = "yuv444p10le or yuva444p10le" if PRORES_PROFILES[profile] == "444" else "yuv422p10le"
                raise ValueError(f"ProRes {profile} needs pix_fmt = {want}, got {self.pix_fmt!r}")
        elif self.codec == "dnxhd":
            if self.profile not in DNXHR_PROFILES:
                raise ValueError(f"codec dnxhd needs profile = one of {', '.join(DNXHR_PROFILES)}")
            if self.pix_fmt != DNXHR_PROFILES[self.profile]:
                raise ValueError(f"{self.profile} needs pix_fmt = {DNXHR_PROFILES[self.profile]!r}, got {self.pix_fmt!r}")
        elif self.profile is not None:
            raise ValueError(f"profile: not for {self.codec} (x264/x265 choose it from pix_fmt)")
        return self

    @property
    def codec_profile(self) -> str | None:
        """The encoder's ``-profile:v``: the ProRes default from the pix_fmt, DNxHR's as given, None for x26x."""
        if self.codec == "prores_ks":
            return self.profile or ("4444" if "444" in self.pix_fmt else "hq")
        return self.profile if self.codec == "dnxhd" else None

    @property
    def has_alpha(self) -> bool:
        """Whether the preset can carry the comp's alpha (a ``yuva`` pix_fmt)."""
        return self.pix_fmt.startswith("yuva")

    @property
    def deep(self) -> bool:
        """More than 8 bits a sample: the encoder is fed 16-bit RGB, not 8-bit."""
        return "10le" in self.pix_fmt

    @property
    def suffix(self) -> str:
        """The movie's file suffix: ``.mp4``, ``.mov``, ``.mxf``, ``.mkv``."""
        return f".{self.container}"

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
