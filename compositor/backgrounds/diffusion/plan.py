"""The plan of one diffusion canvas: everything that decides it (model, mode, prompt, numbers, size, tiles,
device), resolved and checked before any weights load; its source picture; and ``describe``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compositor.backgrounds.diffusion.models import (
    LoraRef,
    ModelRef,
    _check_installed,
    _read_json,
    _require,
    _resolve_loras,
    _resolve_model,
    _version,
    _where,
)
from compositor.core import control as ctl
from compositor.core.io import FrameSource, check_input_image, read_image
from compositor.errors import MissingInputError, SpecError
from compositor.spec.models import PromptFragments

if TYPE_CHECKING:
    from compositor.spec import Shot

BACKEND_VERSION = 1
"""Bumped whenever this module changes the pixels it makes from the same inputs (part of ``describe``)."""

DEFAULT_STEPS = 30
DEFAULT_GUIDANCE = 7.5
DEFAULT_STRENGTH_LAYOUT = 0.75
"""img2img from a layout drawing: enough noise to paint over the pencil, little enough to keep its composition."""
DEFAULT_STRENGTH_PER_FRAME = 0.5
"""Video-to-video: keeps each frame's motion and shapes; the temporal pass steadies what still flickers."""
CONTROLNET_SCALE = 1.0

VAE_TILING_AREA = 9
"""Decode (and encode) through the VAE in tiles when the canvas is larger than this many native tiles."""

SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "dpm++2m": ("DPMSolverMultistepScheduler", {}),
    "dpm++2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "dpm++2m_sde_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
    ),
    "unipc": ("UniPCMultistepScheduler", {}),
}
"""Short scheduler names (as in the usual web UIs) → diffusers class and config overrides. A diffusers class
name (``"DPMSolverMultistepScheduler"``) is accepted too."""

View = tuple[int, int, int, int]
"""A tile window ``(x0, y0, x1, y1)`` in latent pixels, end exclusive."""


# ----------------------------------------------------------------------------------------------------------------
# The plan: everything that decides one canvas, resolved and checked before any weights load


@dataclass(frozen=True)
class Source:
    """The picture a canvas starts from or is controlled by: the layout drawing, or one plate frame."""

    kind: str  # "layout" | "plate"
    path: Path
    key: str  # the spec key, for messages
    index: int = 0  # plate frame (0-based)
    hold_missing: bool = False  # a plate sequence's gap holds the frame before (background.hold_missing)


@dataclass(frozen=True)
class Plan:
    """One canvas's generation, resolved from the shot: model, mode, prompt, numbers, size, tiles and device."""

    display: str
    name: str
    index: int
    count: int
    model: ModelRef
    controlnet: ModelRef | None
    control_kind: str | None
    scheduler: str | None
    prompt: str
    negative: str
    seed: int
    steps: int
    guidance: float
    strength: float | None
    """Set when generation starts from ``source`` (img2img); None for txt2img and ControlNet from noise."""
    canvas: tuple[int, int]
    size: tuple[int, int]
    """The generated size: the canvas rounded up to the VAE's factor (cropped back afterwards)."""
    factor: int
    tile: int
    overlap: int
    views: tuple[View, ...]
    vae_tiling: bool
    source: Source | None
    device: str
    dtype: str
    loras: tuple[LoraRef, ...] = ()
    """LoRAs laid over the model, in order, each with its weight."""

    @property
    def family(self) -> str:
        """``"sd"`` or ``"sdxl"``: which text encoders and conditioning the model takes."""
        return self.model.family

    @property
    def mode(self) -> str:
        if self.controlnet is not None:
            return "controlnet+img2img" if self.strength is not None else "controlnet"
        return "img2img" if self.strength is not None else "txt2img"

    @property
    def guided(self) -> bool:
        return self.guidance > 1.0

    def headline(self) -> str:
        """One line saying what is being generated (the progress bar's description)."""
        w, h = self.canvas
        parts = [f"{self.name} background: {'SDXL ' if self.family == 'sdxl' else ''}{self.mode} {w}x{h}"]
        if self.count > 1:
            parts.append(f"frame {self.index + 1}/{self.count}")
        if len(self.views) > 1:
            parts.append(f"{len(self.views)} tiles")
        parts.append(f"{self.device} {self.dtype}")
        return ", ".join(parts)


def _join_fragments(parts: Sequence[str | None]) -> str:
    """Prompt fragments joined with commas, each without stray commas or spaces; repeats kept once."""
    kept: list[str] = []
    for part in parts:
        text = (part or "").strip().strip(",").strip()
        if text and text not in kept:
            kept.append(text)
    return ", ".join(kept)


def full_prompt(shot: Shot) -> tuple[str, str]:
    """The cut's prompt wrapped in its style's prefix and suffix, and the negative prompt (style's, then setting's)."""
    style = shot.style.prompt if shot.style is not None else PromptFragments()
    prompt = _join_fragments([style.prefix, shot.spec.background.prompt, style.suffix])
    negative = _join_fragments([style.negative, shot.diffusion.negative_prompt])
    return prompt, negative


def tile_views(width: int, height: int, tile: int, overlap: int) -> list[View]:
    """Overlapping square windows of edge ``tile`` covering a ``width`` × ``height`` grid, row by row.

    Neighbours overlap by ``overlap``; the last window of a row or column is moved back to end at the border, so
    it may overlap more. A side no longer than ``tile`` gets one window of its full length.
    """

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        out = list(range(0, length - tile + 1, tile - overlap))
        if out[-1] + tile < length:
            out.append(length - tile)
        return out

    tw, th = min(tile, width), min(tile, height)
    return [(x, y, x + tw, y + th) for y in starts(height) for x in starts(width)]


def _resolve_device(shot: Shot) -> tuple[str, str]:
    want = shot.diffusion.device or "auto"
    if want == "cpu":
        return "cpu", "float32" if (shot.diffusion.dtype or "auto") == "auto" else shot.diffusion.dtype
    torch = _require(shot.display)
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if want == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if mps_ok else "cpu"
    elif want == "cuda" and not torch.cuda.is_available():
        raise SpecError(
            f'{_where(shot, "device")}: "cuda", but torch {torch.__version__} sees no CUDA GPU; '
            'set it to "auto" or "cpu"'
        )
    elif want == "mps" and not mps_ok:
        raise SpecError(
            f'{_where(shot, "device")}: "mps", but Apple MPS is not available here; set it to "auto" or "cpu"'
        )
    else:
        device = want
    dtype = shot.diffusion.dtype or "auto"
    if dtype == "auto":
        dtype = "float16" if device == "cuda" else "float32"
    return device, dtype


def _check_multiple(value: int, factor: int, where: str, what: str) -> None:
    if value % factor:
        lower, upper = value // factor * factor, (value // factor + 1) * factor
        raise SpecError(
            f"{where}: {what} {value} is not a multiple of {factor} (the VAE's downsampling factor); "
            f"use {lower or upper} or {upper}"
        )


def _scheduler_choice(shot: Shot) -> str | None:
    name = shot.diffusion.scheduler
    if name is None:
        return None
    if name.lower() in SCHEDULERS:
        return name.lower()
    import diffusers  # noqa: PLC0415

    if name.endswith("Scheduler") and hasattr(diffusers, name):
        return name
    raise SpecError(
        f"{_where(shot, 'scheduler')}: unknown scheduler {name!r} (have: {', '.join(SCHEDULERS)}, "
        "or a diffusers class name like DPMSolverMultistepScheduler)"
    )


def frame_count(shot: Shot) -> int:
    """How many canvases the cut's diffusion background has: one, or one per frame with ``per_frame``."""
    return shot.frames if shot.spec.background.per_frame else 1


def _plate_source(shot: Shot, index: int) -> Source:
    bg = shot.spec.background
    if bg.layout:
        raise SpecError(
            f"{shot.display}: background.layout: per_frame takes each canvas's composition from the plate's "
            "frames; remove layout (or per_frame)"
        )
    path = shot.files.get("background.plate")
    if not bg.plate or path is None:
        raise SpecError(
            f"{shot.display}: background.per_frame: needs a plate to run image-to-image on, frame by frame "
            "(a video or an image sequence like plates/bg.%04d.png); set background.plate"
        )
    source = FrameSource(path, f"{shot.display}: background.plate: {bg.plate}", hold_missing=bg.hold_missing)
    if source.still:
        raise SpecError(
            f"{shot.display}: background.plate: {bg.plate!r} is a still image; per_frame needs a video or an "
            "image sequence (plates/bg.%04d.png)"
        )
    if len(source) < shot.frames:
        raise SpecError(
            f"{shot.display}: background.plate: {len(source)} frames, but the cut has {shot.frames} and per_frame "
            "needs one plate frame per frame"
        )
    return Source("plate", path, "background.plate", index, bg.hold_missing)


def _plan(shot: Shot, index: int) -> Plan:
    bg = shot.spec.background
    settings = shot.diffusion
    count = frame_count(shot)
    if not 0 <= index < count:
        raise IndexError(f"canvas {index} of a diffusion background with {count} canvas(es)")
    _check_installed(shot.display)
    if not settings.model:
        raise SpecError(
            f'{shot.display}: background.model: source = "diffusion" needs a model (a local diffusers folder or '
            "a hub id), here, in the style's [diffusion] or in edit.toml's [diffusion]"
        )
    if not 0 <= bg.seed < 2**63:
        raise SpecError(f"{shot.display}: background.seed: {bg.seed} is out of range (0 to 2**63 - 1)")

    source: Source | None = None
    if bg.per_frame:
        source = _plate_source(shot, index)
    elif bg.layout:
        path = shot.files.get("background.layout")
        if path is None:
            raise MissingInputError(f"{shot.display}: background.layout: no such file {bg.layout!r}")
        # before any model is looked for: `compositor validate` refuses it in the same words
        check_input_image(path, f"{shot.display}: background.layout", shot.production.rel(path))
        source = Source("layout", path, "background.layout")

    model = _resolve_model(shot, "model")
    controlnet = _resolve_model(shot, "controlnet") if settings.controlnet else None
    unet_config = _read_json(model.folder / "unet" / "config.json", _where(shot, "model"))
    vae_config = _read_json(model.folder / "vae" / "config.json", _where(shot, "model"))
    factor = 2 ** (len(vae_config.get("block_out_channels", [0, 0, 0, 0])) - 1)
    if controlnet is not None:
        if source is None:
            raise SpecError(
                f"{_where(shot, 'controlnet')}: a ControlNet needs a picture to follow; set background.layout "
                "(a layout drawing), or remove controlnet"
            )
        cn_config = _read_json(controlnet.folder / "config.json", _where(shot, "controlnet"))
        cn_xl = cn_config.get("addition_embed_type") == "text_time"
        if cn_xl != (model.family == "sdxl"):
            raise SpecError(
                f"{_where(shot, 'controlnet')}: {controlnet.written!r} is a ControlNet for "
                f"{'SDXL' if cn_xl else 'Stable Diffusion 1.x/2.x'}, but the model {model.written!r} is "
                f"{'SDXL' if model.family == 'sdxl' else 'Stable Diffusion 1.x/2.x'}; use a ControlNet made for "
                "the model's family"
            )
        if cn_config.get("cross_attention_dim") != unet_config.get("cross_attention_dim"):
            raise SpecError(
                f"{_where(shot, 'controlnet')}: {controlnet.written!r} was trained for another base model "
                f"(text width {cn_config.get('cross_attention_dim')}, the model's is "
                f"{unet_config.get('cross_attention_dim')}); use a ControlNet made for {model.written!r}"
            )

    steps = settings.steps or DEFAULT_STEPS
    guidance = DEFAULT_GUIDANCE if settings.guidance is None else settings.guidance
    strength: float | None = None
    if source is not None:
        default = (
            DEFAULT_STRENGTH_PER_FRAME if bg.per_frame else (1.0 if controlnet else DEFAULT_STRENGTH_LAYOUT)
        )
        strength = settings.strength if settings.strength is not None else default
        if controlnet is not None and strength >= 1.0:
            strength = None  # ControlNet from pure noise, as diffusers' ControlNet pipeline does
        elif int(steps * strength) < 1:
            raise SpecError(
                f"{_where(shot, 'strength')}: {strength} of {steps} steps leaves no step to run; "
                f"raise strength to at least {1 / steps:.3g} or raise steps"
            )

    native = unet_config.get("sample_size", 64)
    native = min(native) if isinstance(native, (list, tuple)) else int(native)
    tile = settings.tile or native * factor
    _check_multiple(tile, factor, _where(shot, "tile"), "tile")
    overlap = settings.overlap if settings.overlap is not None else (tile // 2) // factor * factor
    _check_multiple(overlap, factor, _where(shot, "overlap"), "overlap")
    if overlap >= tile:
        raise SpecError(f"{_where(shot, 'overlap')}: {overlap} must be smaller than the tile ({tile})")

    w, h = shot.canvas
    size = (-(-w // factor) * factor, -(-h // factor) * factor)
    views = tile_views(size[0] // factor, size[1] // factor, tile // factor, overlap // factor)
    vae_tiling = size[0] * size[1] > VAE_TILING_AREA * (native * factor) ** 2

    prompt, negative = full_prompt(shot)
    loras = _resolve_loras(shot, unet_config.get("cross_attention_dim"))
    device, dtype = _resolve_device(shot)
    return Plan(
        display=shot.display,
        name=shot.name,
        index=index,
        count=count,
        model=model,
        controlnet=controlnet,
        control_kind=ctl.control_kind_for(controlnet.written) if controlnet else None,
        scheduler=_scheduler_choice(shot),
        prompt=prompt,
        negative=negative,
        seed=bg.seed,
        steps=steps,
        guidance=guidance,
        strength=strength,
        canvas=(w, h),
        size=size,
        factor=factor,
        tile=tile,
        overlap=overlap,
        views=tuple(views),
        vae_tiling=vae_tiling,
        source=source,
        device=device,
        dtype=dtype,
        loras=loras,
    )


# ----------------------------------------------------------------------------------------------------------------
# Source pictures


def _read_source(plan: Plan) -> tuple[np.ndarray, str]:
    """The source picture as premultiplied RGBA at its own size, and the sha256 of what was read."""
    src = plan.source
    assert src is not None
    if src.kind == "layout":
        data = src.path.read_bytes()
        return read_image(src.path), hashlib.sha256(data).hexdigest()
    frames = FrameSource(src.path, f"{plan.display}: {src.key}", hold_missing=src.hold_missing)
    frame = next(iter(frames.frames(start=src.index, count=1)))
    if frames.sequence:  # an image sequence: hash the file, not its decoding
        return frame, hashlib.sha256(frames.frame_file(src.index).read_bytes()).hexdigest()
    return frame, hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()


def _fit_source(plan: Plan, frame: np.ndarray) -> np.ndarray:
    """The source resized to the canvas (same shape within 2%) and padded to the generated size."""
    src = plan.source
    assert src is not None
    fh, fw = frame.shape[:2]
    w, h = plan.canvas
    if abs((fw / fh) / (w / h) - 1) > 0.02:
        what = "drawing" if src.kind == "layout" else "plate"
        raise SpecError(
            f"{plan.display}: {src.key}: the {what} is {fw}x{fh} ({fw / fh:.2f}:1) but the canvas is {w}x{h} "
            f"({w / h:.2f}:1); make it the canvas's shape (background.canvas) so the composition is not stretched"
        )
    return ctl.pad_to(ctl.resize_to(frame, (w, h)), plan.size)


# ----------------------------------------------------------------------------------------------------------------
# describe


def describe(shot: Shot, index: int) -> dict[str, Any]:
    """Everything that changes the pixels of canvas ``index`` (0-based), as a JSON-able dict.

    The background step hashes it for the cache key and stores it beside the image as provenance. Settings
    that do not change this canvas (``strength`` without a source picture, tiling on a canvas that fits one tile)
    are left out so that they do not invalidate the cache.
    """
    plan = _plan(shot, index)
    source = None
    if plan.source is not None:
        frame, digest = _read_source(plan)
        _fit_source(plan, frame)  # refuse a mis-shaped layout before anything is cached
        source = {"kind": plan.source.kind, "file": shot.production.rel(plan.source.path), "sha256": digest}
        if plan.source.kind == "plate":
            source["frame"] = plan.source.index + 1
    described = {
        "backend": "diffusion",
        "backend_version": BACKEND_VERSION,
        "mode": plan.mode,
        "model": plan.model.identity,
        "controlnet": plan.controlnet.identity if plan.controlnet else None,
        "control": (
            {"kind": plan.control_kind, "scale": CONTROLNET_SCALE, "version": ctl.CONTROL_VERSION}
            if plan.controlnet
            else None
        ),
        "scheduler": plan.scheduler or "model default",
        "prompt": plan.prompt,
        "negative_prompt": plan.negative if plan.guided else None,
        "seed": plan.seed,
        "steps": plan.steps,
        "guidance": plan.guidance,
        "strength": plan.strength,
        "canvas": list(plan.canvas),
        "generated": list(plan.size),
        "tiles": (
            {"tile": plan.tile, "overlap": plan.overlap, "count": len(plan.views)}
            if len(plan.views) > 1
            else None
        ),
        "vae_tiling": plan.vae_tiling,
        "source": source,
        "dtype": plan.dtype,
        "versions": {
            "torch": _version("torch"),
            "diffusers": _version("diffusers"),
            "transformers": _version("transformers"),
            "opencv": _version("opencv-python-headless") or _version("opencv-python")
            if plan.source
            else None,
        },
    }
    # Added only when they apply, so that the keys of backgrounds cached before them stay as they were.
    if plan.loras:
        described["lora"] = [lora.identity for lora in plan.loras]
        described["versions"]["peft"] = _version("peft")
    if might_be_chunked(plan.prompt) or (plan.guided and might_be_chunked(plan.negative)):
        described["prompt_encoding"] = PROMPT_ENCODING
    return described


PROMPT_ENCODING = "chunks of 75 tokens, split after a comma within the last 20"
"""How prompts longer than CLIP's 75 tokens are encoded (``prompts.encode``); part of ``describe`` when it may apply."""


def might_be_chunked(text: str) -> bool:
    """Whether ``text`` may exceed one 75-token chunk: CLIP's byte-level BPE gives at most one token per byte, so a
    text of 75 UTF-8 bytes or fewer always fits (and encodes exactly as diffusers' pipelines encode it)."""
    return len(text.lower().encode("utf-8")) > 75
