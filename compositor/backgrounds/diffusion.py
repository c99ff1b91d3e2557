"""The diffusion background backend: Stable Diffusion 1.x/2.x models through diffusers.

A cut with ``[background] source = "diffusion"`` gets its background here, in one of four modes chosen by what
the cut gives:

- **txt2img**: no layout; the prompt alone.
- **img2img**: a ``layout`` drawing (or, with ``per_frame``, each plate frame) is encoded and re-noised to
  ``strength``, so the drawing fixes the composition.
- **controlnet**: a ``layout`` and a ``controlnet``; the layout becomes the control image the ControlNet was
  trained on (light lines on black, ``compositor.core.control``) and generation starts from noise, or from the layout
  as well when ``strength`` is below 1.
- **per-frame** (video-to-video): ``per_frame = true`` with a video or image-sequence plate runs img2img (plus the
  ControlNet, if given, on that frame's lines) on every frame with one fixed seed.

A canvas larger than the model's native size (512 px for SD 1.5) is denoised as overlapping tiles that share
one latent (MultiDiffusion, Bar-Tal et al. 2023): at every step each tile predicts the noise of its window, the
predictions are averaged where tiles overlap, and one scheduler step moves the whole canvas. For every diffusers
scheduler whose update is linear in the model output (DDIM, PNDM, Euler, DPM-Solver++, UniPC, ... with sample
clipping off, as Stable Diffusion configures them) this equals averaging each tile's own update, which is the
paper's formulation, and it keeps a single scheduler state instead of one per tile.

This module's interface, called by the background step (``compositor.backgrounds``), which caches by the hash
of ``describe`` and lays the retouch on top:

- ``frame_count(shot)``: how many canvases (1, or the cut's frames with ``per_frame``).
- ``describe(shot, index)``: a JSON-able dict of everything that changes the pixels of canvas ``index``.
- ``paint(shot, index, progress)``: canvas ``index`` as float32 premultiplied RGBA ``(H, W, 4)``.

torch, diffusers and transformers are imported inside the functions that need them; importing this module
costs nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compositor.core import control as ctl
from compositor.errors import (
    BackendMissingError,
    CorruptInputError,
    MissingInputError,
    RenderError,
    SpecError,
)
from compositor.core.io import FrameSource, read_image

if TYPE_CHECKING:
    from compositor.spec import Shot

INSTALL_HINT = "pip install 'compositor[diffusion]'"

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

Progress = Callable[[str, int, int], None]
View = tuple[int, int, int, int]
"""A tile window ``(x0, y0, x1, y1)`` in latent pixels, end exclusive."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CONFIG_SUFFIXES = {".json", ".txt", ".model", ".yaml", ".yml"}
_WEIGHT_SUFFIXES = {".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".onnx", ".gguf", ".msgpack", ".h5"}
_SAMPLES_PER_WEIGHT_FILE = 16
_SAMPLE_BYTES = 64 * 1024


# ----------------------------------------------------------------------------------------------------------------
# Lazy imports


def _check_installed(display: str) -> None:
    """Say what to install when torch, diffusers or transformers is missing, without importing them.

    Describing a background that is already cached must not pay torch's import (seconds).
    """
    missing = [name for name in ("torch", "diffusers", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        raise BackendMissingError(
            f'{display}: background.source: "diffusion" needs torch, diffusers and transformers '
            f"(missing: {', '.join(missing)}); {INSTALL_HINT}"
        )


def _require(display: str) -> Any:
    """Import torch (once), or say what to install; returns torch."""
    _check_installed(display)
    import torch  # noqa: PLC0415

    return torch


def _quiet_libraries() -> None:
    """Our progress callback is the one progress display; the libraries' own bars and info lines are noise."""
    import diffusers  # noqa: PLC0415
    import transformers  # noqa: PLC0415

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# ----------------------------------------------------------------------------------------------------------------
# Where a setting came from (for messages): the cut, its style template, or edit.toml


def _where(shot: Shot, key: str) -> str:
    """``"<file>: <key path>"`` naming the file that set diffusion key ``key``."""
    if getattr(shot.spec.background, key, None) is not None:
        return f"{shot.display}: background.{key}"
    style_diffusion = shot.style.get("diffusion") if isinstance(shot.style, dict) else None
    if isinstance(style_diffusion, dict) and style_diffusion.get(key) is not None:
        return f"{shot.production.rel(shot.style_path)}: diffusion.{key}"
    if getattr(shot.diffusion, key, None) is not None:
        return f"{shot.production.rel(shot.production.shots / 'edit.toml')}: diffusion.{key}"
    return f"{shot.display}: background.{key}"


# ----------------------------------------------------------------------------------------------------------------
# Models: local folders and hub ids, and their identity


@dataclass(frozen=True)
class ModelRef:
    """A model as the spec names it, the local folder that holds it, and what identifies its weights."""

    written: str
    folder: Path
    identity: dict[str, Any]


_FINGERPRINTS: dict[tuple[Any, ...], str] = {}


def _sampled_digest(path: Path, size: int) -> str:
    """A digest of a weight file's size and evenly spaced 64 KiB samples of its bytes (first and last included).

    Hashing every byte of a 2–7 GB checkpoint on each run would cost seconds; any real change of weights
    (a fine-tune, another checkpoint, a different precision) changes the bytes everywhere, so samples catch it, and
    unlike modification times they agree between machines of a render farm.
    """
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        if size <= _SAMPLES_PER_WEIGHT_FILE * _SAMPLE_BYTES:
            h.update(f.read())
        else:
            last = size - _SAMPLE_BYTES
            for i in range(_SAMPLES_PER_WEIGHT_FILE):
                f.seek(last * i // (_SAMPLES_PER_WEIGHT_FILE - 1))
                h.update(f.read(_SAMPLE_BYTES))
    return h.hexdigest()


def model_fingerprint(folder: Path) -> str:
    """A content fingerprint of a diffusers model folder: its config files in full, its weight files sampled.

    Hidden files and folders (``.cache``, ``.git``) and documentation do not count.
    """
    files = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        suffix = p.suffix.lower()
        if suffix in _CONFIG_SUFFIXES or suffix in _WEIGHT_SUFFIXES:
            st = p.stat()
            files.append((rel.as_posix(), p, suffix, st.st_size, st.st_mtime_ns))
    key = (str(folder), tuple((f[0], f[3], f[4]) for f in files))
    if key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    h = hashlib.sha256()
    for rel_name, p, suffix, size, _ in files:
        h.update(rel_name.encode() + b"\0")
        if suffix in _CONFIG_SUFFIXES:
            h.update(hashlib.sha256(p.read_bytes()).hexdigest().encode())
        else:
            h.update(_sampled_digest(p, size).encode())
    _FINGERPRINTS[key] = h.hexdigest()
    return _FINGERPRINTS[key]


def _hub_offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return True
    try:
        from huggingface_hub import constants  # noqa: PLC0415
    except ImportError:
        return True
    return bool(constants.HF_HUB_OFFLINE)


def _hub_folder(repo_id: str, kind: str) -> Path | None:
    """The cached snapshot of ``repo_id``, downloading it when the hub is reachable; None when it cannot be had."""
    try:
        from huggingface_hub import snapshot_download  # noqa: PLC0415
    except ImportError:
        return None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 (any failure means "not usable from the cache"; the network may still have it)
        if _hub_offline():
            return None
    try:
        if kind == "model":
            from diffusers import DiffusionPipeline  # noqa: PLC0415

            return Path(DiffusionPipeline.download(repo_id))
        folder = Path(
            snapshot_download(repo_id, allow_patterns=["*.json", "diffusion_pytorch_model.safetensors"])
        )
        if not (folder / "diffusion_pytorch_model.safetensors").is_file():
            folder = Path(
                snapshot_download(repo_id, allow_patterns=["*.json", "diffusion_pytorch_model.bin"])
            )
        return folder
    except Exception:  # noqa: BLE001 (no network, no such repo, gated: the message below covers them)
        return None


def _check_model_folder(folder: Path, written: str, kind: str, where: str) -> None:
    if kind == "model":
        index = folder / "model_index.json"
        if not index.is_file():
            raise MissingInputError(
                f"{where}: {written!r} is not a diffusers model folder (no model_index.json); convert a single "
                "checkpoint with StableDiffusionPipeline.from_single_file(path).save_pretrained(folder)"
            )
        info = _read_json(index, where)
        unet = _read_json(folder / "unet" / "config.json", where)
        if "text_encoder_2" in info or unet.get("addition_embed_type") is not None:
            raise SpecError(
                f"{where}: {written!r} is a {info.get('_class_name', 'SDXL-type')} model; this backend runs "
                "Stable Diffusion 1.x/2.x models (StableDiffusionPipeline layout)"
            )
        if unet.get("in_channels", 4) != 4:
            raise SpecError(
                f"{where}: {written!r} has a {unet.get('in_channels')}-channel UNet (an inpainting or depth model); "
                "use a plain text-to-image Stable Diffusion 1.x/2.x model"
            )
    else:
        config = folder / "config.json"
        if not config.is_file() or "ControlNet" not in str(_read_json(config, where).get("_class_name", "")):
            raise MissingInputError(
                f"{where}: {written!r} is not a diffusers ControlNet folder (config.json with "
                '"_class_name": "ControlNetModel")'
            )


def _read_json(path: Path, where: str) -> dict[str, Any]:
    if not path.is_file():
        raise MissingInputError(f"{where}: the model has no {path.parent.name}/{path.name} ({path})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CorruptInputError(f"{where}: {path} is not valid JSON") from None


def _resolve_model(shot: Shot, key: str) -> ModelRef:
    """Find the model named by diffusion key ``key`` (``model`` or ``controlnet``) on this machine.

    A relative path is looked up from the production's root, then from the cut's folder; a name like
    ``org/name`` that is no local folder is a Hugging Face id, used from the local cache or fetched when there is
    a network.
    """
    written: str = getattr(shot.diffusion, key)
    where = _where(shot, key)
    path = Path(written).expanduser()
    candidates = [path] if path.is_absolute() else [shot.production.root / path, shot.folder / path]
    for candidate in candidates:
        if candidate.is_dir():
            folder = candidate.resolve()
            _check_model_folder(folder, written, key, where)
            return ModelRef(written, folder, {"source": written, "fingerprint": model_fingerprint(folder)})
    marker = "model_index.json" if key == "model" else "config.json"
    looked = shot.production.rel(candidates[0])
    key_path = where.rsplit(": ", 1)[-1]
    if _HUB_ID.match(written) and ".." not in written:
        folder = _hub_folder(written, key)
        if folder is None:
            raise MissingInputError(
                f"{where}: no diffusers model at {written!r} (looked in {looked} and the Hugging Face cache) and "
                f"no network to fetch it; set {key_path} to a local folder in diffusers layout ({marker})"
            )
        _check_model_folder(folder, written, key, where)
        return ModelRef(written, folder, {"hub_id": written, "revision": folder.name})
    raise MissingInputError(
        f"{where}: no diffusers model at {written!r} (looked in {looked}); set {key_path} to a local folder in "
        f"diffusers layout ({marker}) or a Hugging Face id"
    )


# ----------------------------------------------------------------------------------------------------------------
# The plan: everything that decides one canvas, resolved and checked before any weights load


@dataclass(frozen=True)
class Source:
    """The picture a canvas starts from or is controlled by: the layout drawing, or one plate frame."""

    kind: str  # "layout" | "plate"
    path: Path
    key: str  # the spec key, for messages
    index: int = 0  # plate frame (0-based)


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
        parts = [f"{self.name} background: {self.mode} {w}x{h}"]
        if self.count > 1:
            parts.append(f"frame {self.index + 1}/{self.count}")
        if len(self.views) > 1:
            parts.append(f"{len(self.views)} tiles")
        parts.append(f"{self.device} {self.dtype}")
        return ", ".join(parts)


def _style_prompt(shot: Shot) -> dict[str, str]:
    section = shot.style.get("prompt", {}) if isinstance(shot.style, dict) else {}
    style_file = shot.production.rel(shot.style_path)
    if not isinstance(section, dict):
        raise SpecError(f"{style_file}: prompt: must be a table with prefix, suffix and negative")
    allowed = ("prefix", "suffix", "negative")
    out = {}
    for key, value in section.items():
        if key not in allowed:
            raise SpecError(f"{style_file}: prompt.{key}: unknown key (have: {', '.join(allowed)})")
        if not isinstance(value, str):
            raise SpecError(f"{style_file}: prompt.{key}: must be text, got {type(value).__name__}")
        out[key] = value
    return out


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
    style = _style_prompt(shot)
    prompt = _join_fragments([style.get("prefix"), shot.spec.background.prompt, style.get("suffix")])
    negative = _join_fragments([style.get("negative"), shot.diffusion.negative_prompt])
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
    source = FrameSource(path, f"{shot.display}: background.plate: {bg.plate}")
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
    return Source("plate", path, "background.plate", index)


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
    frames = FrameSource(src.path, f"{plan.display}: {src.key}")
    frame = next(iter(frames.frames(start=src.index, count=1)))
    files = frames.files()
    if len(files) == len(frames):  # an image sequence: hash the file, not its decoding
        return frame, hashlib.sha256(files[src.index].read_bytes()).hexdigest()
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
    return {
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


# ----------------------------------------------------------------------------------------------------------------
# Pipelines, loaded once per process


@dataclass
class LoadedPipeline:
    key: tuple[Any, ...]
    pipe: Any  # diffusers.StableDiffusionPipeline
    controlnet: Any | None  # diffusers.ControlNetModel
    device: str
    dtype: Any  # torch.dtype


_LOADED: list[LoadedPipeline] = []


def clear_pipeline_cache() -> None:
    """Drop the process's loaded pipeline (and its GPU memory)."""
    _LOADED.clear()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_pipeline(plan: Plan) -> LoadedPipeline:
    """The plan's model (and ControlNet) on its device in its dtype; reused while the same ones are asked for.

    Only one pipeline is kept, so a production that switches models between cuts never holds two in GPU memory.
    """
    key = (
        str(plan.model.folder),
        json.dumps(plan.model.identity, sort_keys=True),
        str(plan.controlnet.folder) if plan.controlnet else None,
        json.dumps(plan.controlnet.identity, sort_keys=True) if plan.controlnet else None,
        plan.device,
        plan.dtype,
    )
    if _LOADED and _LOADED[0].key == key:
        return _LOADED[0]
    clear_pipeline_cache()
    torch = _require(plan.display)
    _quiet_libraries()
    from diffusers import ControlNetModel, StableDiffusionPipeline  # noqa: PLC0415

    dtype = getattr(torch, plan.dtype)
    try:
        pipe = StableDiffusionPipeline.from_pretrained(
            str(plan.model.folder),
            dtype=dtype,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise CorruptInputError(
            f"{plan.display}: background.model: cannot load {plan.model.written!r} from {plan.model.folder}: "
            f"{_first_line(e)}"
        ) from None
    pipe.set_progress_bar_config(disable=True)
    net = None
    if plan.controlnet is not None:
        try:
            net = ControlNetModel.from_pretrained(str(plan.controlnet.folder), dtype=dtype)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            raise CorruptInputError(
                f"{plan.display}: background.controlnet: cannot load {plan.controlnet.written!r} from "
                f"{plan.controlnet.folder}: {_first_line(e)}"
            ) from None
    try:
        pipe.to(plan.device)
        if net is not None:
            net.to(plan.device)
    except torch.cuda.OutOfMemoryError:
        raise RenderError(
            f"{plan.display}: background.model: the model does not fit in GPU memory in {plan.dtype}; "
            'set background.dtype = "float16", free the GPU, or set background.device = "cpu"'
        ) from None
    loaded = LoadedPipeline(key, pipe, net, plan.device, dtype)
    _LOADED.append(loaded)
    return loaded


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def make_scheduler(loaded: LoadedPipeline, choice: str | None) -> Any:
    """A fresh scheduler (they keep per-run state) of the chosen kind, configured from the model's."""
    import diffusers  # noqa: PLC0415

    config = loaded.pipe.scheduler.config
    if choice is None:
        return type(loaded.pipe.scheduler).from_config(config)
    cls_name, overrides = SCHEDULERS.get(choice, (choice, {}))
    return getattr(diffusers, cls_name).from_config(config, **overrides)


# ----------------------------------------------------------------------------------------------------------------
# The denoising loop


def denoise_tiles(
    latents: Any,
    timesteps: Sequence[Any],
    scheduler: Any,
    views: Sequence[View],
    predict: Callable[[Any, Any, View], Any],
    step_kwargs: dict[str, Any] | None = None,
    on_tile: Callable[[int, int], None] | None = None,
) -> Any:
    """Denoise ``latents`` (torch ``(1, C, h, w)``) over ``timesteps`` with MultiDiffusion over ``views``.

    ``predict(x, t, view)`` returns the (guided) noise prediction for the window ``x`` of ``latents`` at ``view``.
    Where windows overlap, their predictions are averaged (in float32) before the one scheduler step; with a
    single window this is exactly diffusers' own loop. ``on_tile(step, view_index)`` is called after each window.
    """
    import torch  # noqa: PLC0415

    _, _, h, w = latents.shape
    count = torch.zeros((1, 1, h, w), dtype=torch.float32, device=latents.device)
    for x0, y0, x1, y1 in views:
        count[:, :, y0:y1, x0:x1] += 1
    if bool((count == 0).any()):
        raise ValueError("the tile windows leave part of the canvas uncovered")
    for i, t in enumerate(timesteps):
        total = torch.zeros(latents.shape, dtype=torch.float32, device=latents.device)
        for k, view in enumerate(views):
            x0, y0, x1, y1 = view
            total[:, :, y0:y1, x0:x1] += predict(latents[:, :, y0:y1, x0:x1], t, view).float()
            if on_tile is not None:
                on_tile(i, k)
        noise = (total / count).to(latents.dtype)
        latents = scheduler.step(noise, t, latents, **(step_kwargs or {}), return_dict=False)[0]
    return latents


def _to_tensor(image: np.ndarray, device: str, dtype: Any) -> Any:
    """RGB ``(H, W, 3)`` float in [0, 1] → torch ``(1, 3, H, W)``."""
    import torch  # noqa: PLC0415

    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None])).to(
        device=device, dtype=dtype
    )


def generate(
    loaded: LoadedPipeline,
    plan: Plan,
    init: np.ndarray | None,
    control: np.ndarray | None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Run the plan: RGB ``(H, W, 3)`` float32 in [0, 1] at ``plan.size``.

    ``init`` (RGB at ``plan.size``, [0, 1]) is the img2img start when ``plan.strength`` is set; ``control`` (RGB
    at ``plan.size``, [0, 1], lines white) feeds the ControlNet.
    """
    import torch  # noqa: PLC0415
    from diffusers.utils.torch_utils import randn_tensor  # noqa: PLC0415

    pipe, device, dtype = loaded.pipe, loaded.device, loaded.dtype
    scheduler = make_scheduler(loaded, plan.scheduler)
    # The same seed gives the same start on every device: noise is drawn on the CPU and moved.
    generator = torch.Generator("cpu").manual_seed(plan.seed)
    w, h = plan.size
    f = plan.factor
    if plan.vae_tiling:
        pipe.vae.enable_tiling()
    else:
        pipe.vae.disable_tiling()

    with torch.inference_mode():
        cond, uncond = pipe.encode_prompt(
            plan.prompt, device, 1, plan.guided, negative_prompt=plan.negative or None
        )
        embeds = torch.cat([uncond, cond]) if plan.guided else cond

        scheduler.set_timesteps(plan.steps, device=device)
        timesteps = scheduler.timesteps
        shape = (1, pipe.unet.config.in_channels, h // f, w // f)
        if plan.strength is not None:
            assert init is not None
            run = min(int(plan.steps * plan.strength), plan.steps)
            start = plan.steps - run
            timesteps = timesteps[start * scheduler.order :]
            if hasattr(scheduler, "set_begin_index"):
                scheduler.set_begin_index(start * scheduler.order)
            image = _to_tensor(init, device, dtype) * 2 - 1
            init_latents = (
                pipe.vae.encode(image).latent_dist.sample(generator) * pipe.vae.config.scaling_factor
            )
            noise = randn_tensor(
                init_latents.shape, generator=generator, device=torch.device(device), dtype=dtype
            )
            latents = scheduler.add_noise(init_latents, noise, timesteps[:1])
        else:
            latents = randn_tensor(shape, generator=generator, device=torch.device(device), dtype=dtype)
            latents = latents * scheduler.init_noise_sigma

        control_tensor = None
        if loaded.controlnet is not None:
            assert control is not None
            control_tensor = _to_tensor(control, device, dtype)

        def predict(x: Any, t: Any, view: View) -> Any:
            model_input = torch.cat([x, x]) if plan.guided else x
            model_input = scheduler.scale_model_input(model_input, t)
            residuals: dict[str, Any] = {}
            if control_tensor is not None:
                x0, y0, x1, y1 = view
                cond_image = control_tensor[:, :, y0 * f : y1 * f, x0 * f : x1 * f]
                if plan.guided:
                    cond_image = torch.cat([cond_image, cond_image])
                down, mid = loaded.controlnet(
                    model_input,
                    t,
                    encoder_hidden_states=embeds,
                    controlnet_cond=cond_image,
                    conditioning_scale=CONTROLNET_SCALE,
                    guess_mode=False,
                    return_dict=False,
                )
                residuals = {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}
            noise = pipe.unet(model_input, t, encoder_hidden_states=embeds, return_dict=False, **residuals)[0]
            if plan.guided:
                noise_uncond, noise_text = noise.chunk(2)
                noise = noise_uncond + plan.guidance * (noise_text - noise_uncond)
            return noise

        step_kwargs = (
            {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}
        )
        total = len(timesteps) * len(plan.views)
        headline = plan.headline()
        if progress is not None:
            progress(headline, 0, total)

        def on_tile(step: int, view: int) -> None:
            if progress is not None:
                progress(headline, step * len(plan.views) + view + 1, total)

        latents = denoise_tiles(latents, timesteps, scheduler, plan.views, predict, step_kwargs, on_tile)
        image = pipe.vae.decode(
            latents / pipe.vae.config.scaling_factor, return_dict=False, generator=generator
        )[0]
        image = (image / 2 + 0.5).clamp(0, 1)
        return image[0].permute(1, 2, 0).float().cpu().numpy()


# ----------------------------------------------------------------------------------------------------------------
# paint


def paint(shot: Shot, index: int = 0, progress: Progress | None = None) -> np.ndarray:
    """Generate canvas ``index`` (0-based): float32 premultiplied RGBA ``(H, W, 4)``, alpha 1, ``shot.canvas`` size.

    ``progress(description, completed, total)`` is called before the first step and after every tile of every
    denoising step.
    """
    plan = _plan(shot, index)
    frame = _read_source(plan)[0] if plan.source is not None else None
    return _paint_plan(plan, frame, progress)


def paint_frames(
    shot: Shot, indices: Sequence[int], progress: Progress | None = None
) -> Iterator[np.ndarray]:
    """Canvases ``indices`` one after another, as ``paint`` makes them.

    With ``per_frame`` the plate is read once, in order, rather than seeking a video afresh for every frame.
    """
    if not shot.spec.background.per_frame or not indices:
        for i in indices:
            yield paint(shot, i, progress)
        return
    first, last = min(indices), max(indices)
    wanted = set(indices)
    plans = {i: _plan(shot, i) for i in wanted}
    source = plans[first].source
    assert source is not None
    frames = FrameSource(source.path, f"{shot.display}: {source.key}").frames(
        start=first, count=last - first + 1
    )
    painted: dict[int, np.ndarray] = {}
    for i, frame in enumerate(frames, start=first):
        if i in wanted:
            painted[i] = _paint_plan(plans[i], frame, progress)
    for i in indices:
        yield painted[i]


def _paint_plan(plan: Plan, frame: np.ndarray | None, progress: Progress | None) -> np.ndarray:
    init = control = None
    if frame is not None:
        fitted = _fit_source(plan, frame)
        if plan.strength is not None:
            init = ctl.flatten_on_white(fitted)
        if plan.controlnet is not None:
            control = ctl.control_image(fitted, plan.control_kind or "lineart")
    loaded = load_pipeline(plan)
    torch = _require(plan.display)
    try:
        rgb = generate(loaded, plan, init, control, progress)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise RenderError(_out_of_memory(plan)) from None
    except RuntimeError as e:
        if "out of memory" not in str(e).lower():
            raise
        raise RenderError(_out_of_memory(plan)) from None
    w, h = plan.canvas
    rgb = np.ascontiguousarray(rgb[:h, :w], dtype=np.float32)
    return np.concatenate([rgb, np.ones((h, w, 1), np.float32)], axis=2)


def _out_of_memory(plan: Plan) -> str:
    w, h = plan.canvas
    levers = [
        f"lower background.tile (now {plan.tile}; {len(plan.views)} tiles) or background.canvas ({w}x{h})"
    ]
    if plan.dtype == "float32" and plan.device != "cpu":
        levers.append('set background.dtype = "float16"')
    levers.append("free the GPU of other work")
    levers.append('or set background.device = "cpu" (slow, but bounded by system memory)')
    return (
        f"{plan.display}: background: out of {plan.device} memory generating {plan.mode} {w}x{h} in {plan.dtype}; "
        + ", ".join(levers)
    )
