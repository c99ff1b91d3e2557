"""Passes over a generated diffusion background, each cached on its own: hi-res, refine, region retouch
(inpainting), and the IP-Adapter style reference of the first generation.

A canvas with passes is made in stages: the base image (``plan.describe``, at ``1 / hires.scale`` of the canvas
when there is a hi-res pass, steered by the ``reference`` when there is one), then the hi-res pass, the refine pass
and the inpaint passes in order. Stage ``k``'s description is the base's with the first ``k`` passes listed under
``"passes"``, so its key holds the base key and everything every earlier pass read (a mask's bytes, a strength, a
model's fingerprint); each stage is cached under ``render/cache/`` by that key with its provenance beside it. A
changed mask therefore re-runs that inpaint pass (and those after it) on the cached image before it, and nothing
else; the last stage's description is the canvas's, which the background step caches as it caches any canvas.

The passes use the pipeline family the base model was loaded as: image-to-image passes run the backend's own
MultiDiffusion loop (``denoise.generate``), inpainting runs diffusers' inpainting pipeline made from the loaded
one by ``AutoPipelineForInpainting.from_pipe`` (a Stable Diffusion pipeline becomes a Stable Diffusion inpainting
pipeline, an SDXL one an SDXL one).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from compositor.backgrounds.diffusion import plan as base_plan
from compositor.backgrounds.diffusion.denoise import Progress, _paint_plan, generate, guarded
from compositor.backgrounds.diffusion.denoise import paint_frames as _base_paint_frames
from compositor.backgrounds.diffusion.models import (
    ModelRef,
    _read_json,
    _require,
    _resolve_model,
    _sampled_digest,
    _where,
    model_fingerprint,
)
from compositor.backgrounds.diffusion.pipeline import load_pipeline, make_scheduler
from compositor.backgrounds.diffusion.plan import Plan, _join_fragments, _plan, _read_source
from compositor.core import control as ctl
from compositor.core.digest import content_key, file_digest
from compositor.core.io import read_image, read_input_image, write_bytes_atomic, write_image
from compositor.errors import CompositorError, MissingInputError, SpecError
from compositor.layout import cache_file

if TYPE_CHECKING:
    from compositor.spec import Shot
    from compositor.spec.models import InpaintPass

PASSES_VERSION = 1
"""Bumped whenever a pass changes the pixels it makes from the same inputs (part of every pass's description)."""

INPAINT_CONTEXT = 4
"""An inpaint pass sees the region around its mask out to at least 1/4 of a tile on every side (and a whole tile
where the canvas allows): the model paints the region to fit what surrounds it."""


# ----------------------------------------------------------------------------------------------------------------
# Pure ops


def feather_mask(mask: np.ndarray, feather: int) -> np.ndarray:
    """A drawn mask ``(H, W)`` bool → the blend weight ``(H, W)`` float32 in [0, 1].

    1 on the mask, falling linearly to 0 over ``feather`` pixels outward (Euclidean distance); exactly 0 further
    out, so those pixels keep their value bit for bit.
    """
    if feather <= 0 or not mask.any():
        return mask.astype(np.float32)
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip(1.0 - distance / (feather + 1.0), 0.0, 1.0).astype(np.float32)


def blend_region(base: np.ndarray, painted: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``base`` ``(H, W, C)`` with ``painted`` blended in by ``weight`` ``(H, W)``; where ``weight`` is 0 the result
    is ``base`` itself, not a recomputation of it (which could differ in the last bit)."""
    w = weight[:, :, None]
    mixed = base * (1.0 - w) + painted * w
    return np.where(w > 0, mixed, base).astype(base.dtype)


def inpaint_window(
    support: np.ndarray, size: tuple[int, int], tile: int, factor: int
) -> tuple[int, int, int, int]:
    """The window ``(x0, y0, x1, y1)`` an inpaint pass regenerates: the mask's support ``(H, W)`` (bool, inside
    ``size = (width, height)``, a multiple of ``factor``) with context around it, at least a tile (or the whole
    side) wide, its edges on multiples of ``factor``, inside ``size``."""
    w, h = size
    ys, xs = np.nonzero(support)
    margin = max(factor, tile // INPAINT_CONTEXT)

    def span(lo: int, hi: int, length: int) -> tuple[int, int]:
        lo, hi = max(0, lo - margin), min(length, hi + margin)
        want = min(length, max(hi - lo, tile))
        want = min(length, -(-want // factor) * factor)
        centre = (lo + hi) // 2
        start = min(max(0, centre - want // 2), length - want)
        start = start // factor * factor
        return start, start + want

    x0, x1 = span(int(xs.min()), int(xs.max()) + 1, w)
    y0, y1 = span(int(ys.min()), int(ys.max()) + 1, h)
    return x0, y0, x1, y1


# ----------------------------------------------------------------------------------------------------------------
# Resolving the passes


def _hires_canvas(shot: Shot) -> tuple[int, int]:
    """The size the base image is generated at under a hi-res pass: the canvas divided by ``hires.scale``."""
    hires = shot.spec.background.hires
    w, h = shot.canvas
    if hires is None:
        return w, h
    return max(1, round(w / hires.scale)), max(1, round(h / hires.scale))


def base_shot(shot: Shot) -> Shot:
    """The cut as its base image is generated: at the hi-res pass's smaller size when there is one."""
    small = _hires_canvas(shot)
    return shot if small == shot.canvas else dataclasses.replace(shot, canvas=small)


def _local_model(shot: Shot, written: str, where: str, inpaint: bool, base: ModelRef) -> ModelRef | None:
    """A pass's own model from a local diffusers folder, checked to belong to the base model's family; None when
    ``written`` is no local folder (then the backend's own resolver takes it: a hub id, a checkpoint file)."""
    path = Path(written).expanduser()
    candidates = [path] if path.is_absolute() else [shot.production.root / path, shot.folder / path]
    folder = next((c.resolve() for c in candidates if c.is_dir()), None)
    if folder is None:
        return None
    if not (folder / "model_index.json").is_file():
        raise MissingInputError(f"{where}: {written!r} is not a diffusers model folder (no model_index.json)")
    unet = _read_json(folder / "unet" / "config.json", where)
    channels = unet.get("in_channels", 4)
    allowed = (4, 9) if inpaint else (4,)
    if channels not in allowed:
        what = "an inpainting model (9 channels) or a text-to-image one (4)" if inpaint else "a text-to-image model"
        raise SpecError(f"{where}: {written!r} has a {channels}-channel UNet; this pass needs {what}")
    base_unet = _read_json(base.folder / "unet" / "config.json", where) if base.folder.is_dir() else {}
    if base_unet and unet.get("cross_attention_dim") != base_unet.get("cross_attention_dim"):
        raise SpecError(
            f"{where}: {written!r} is of another model family than the cut's model {base.written!r} (text width "
            f"{unet.get('cross_attention_dim')}, the model's is {base_unet.get('cross_attention_dim')}); use a "
            "model of the same family"
        )
    return ModelRef(written, folder, {"source": written, "fingerprint": model_fingerprint(folder)})


def _pass_model(shot: Shot, written: str | None, where: str, inpaint: bool, base: ModelRef) -> ModelRef:
    if not written:
        return base
    local = _local_model(shot, written, where, inpaint, base)
    if local is not None:
        return local
    # Not a local folder: resolved as the cut's own model would be, its messages naming this key.
    other = dataclasses.replace(shot, diffusion=shot.diffusion.model_copy(update={"model": written}))
    try:
        return _resolve_model(other, "model")
    except CompositorError as e:
        raise type(e)(str(e).replace(_where(other, "model"), where, 1)) from None


def _check_steps(steps: int, strength: float, where: str) -> None:
    if int(steps * strength) < 1:
        raise SpecError(
            f"{where}: strength {strength} of {steps} steps leaves no step to run; raise strength to at least "
            f"{1 / steps:.3g} or raise steps"
        )


def _img2img_plan(full: Plan, model: ModelRef, strength: float, steps: int | None, where: str) -> Plan:
    """An image-to-image pass over the whole canvas, tiled as the cut's generation is."""
    plan = dataclasses.replace(
        full,
        model=model,
        controlnet=None,
        control_kind=None,
        source=None,
        strength=strength,
        steps=steps or full.steps,
    )
    _check_steps(plan.steps, strength, where)
    return plan


def _full_plan(shot: Shot, index: int) -> Plan:
    return _plan(shot, index)


def mask_weight(shot: Shot, index_in_list: int) -> tuple[np.ndarray, str]:
    """An inpaint pass's blend weight ``(H, W)`` at the canvas size, and the sha256 of the mask file."""
    key = f"background.inpaint[{index_in_list}].mask"
    path = shot.files.get(key)
    spec = shot.spec.background.inpaint[index_in_list]
    if path is None:
        raise MissingInputError(f"{shot.display}: {key}: no such file {spec.mask!r}")
    rgba = read_input_image(path, f"{shot.display}: {key}", shot.production.rel(path))
    w, h = shot.canvas
    if rgba.shape[:2] != (h, w):
        raise SpecError(
            f"{shot.display}: {key}: {rgba.shape[1]}x{rgba.shape[0]} mask, but the canvas is {w}x{h} "
            f"(paint it over `compositor bg {shot.name} --export`)"
        )
    drawn = rgba[:, :, :3].mean(axis=2) >= 0.5  # premultiplied: white and opaque is "regenerate"
    if not drawn.any():
        raise SpecError(
            f"{shot.display}: {key}: the mask is empty (paint white where the image should be regenerated)"
        )
    return feather_mask(drawn, spec.feather), file_digest(path)


_WEIGHT_FILES = {".safetensors", ".bin"}


def reference_weights(shot: Shot) -> tuple[Path, str]:
    """The IP-Adapter of ``reference.weights``: its folder and the name of its weight file.

    ``weights`` names the weight file itself (``models/IP-Adapter/models/ip-adapter_sd15.safetensors``) or a folder
    holding exactly one; either way the folder holds the ``image_encoder/`` it was trained with.
    """
    ref = shot.spec.background.reference
    assert ref is not None
    where = f"{shot.display}: background.reference.weights"
    path = Path(ref.weights).expanduser()
    candidates = [path] if path.is_absolute() else [shot.production.root / path, shot.folder / path]
    found = next((c.resolve() for c in candidates if c.exists()), None)
    if found is None:
        raise MissingInputError(
            f"{where}: no IP-Adapter at {ref.weights!r} (looked in {shot.production.rel(candidates[0])}); name its "
            "weight file (ip-adapter*.safetensors or .bin) or a folder holding it and an image_encoder/ folder"
        )
    if found.is_file():
        if found.suffix not in _WEIGHT_FILES:
            raise SpecError(f"{where}: {ref.weights!r} is no IP-Adapter weight file (.safetensors or .bin)")
        folder, name = found.parent, found.name
    else:
        folder = found
        weights = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in _WEIGHT_FILES)
        if len(weights) != 1:
            listed = ", ".join(weights) or "none"
            raise MissingInputError(
                f"{where}: {ref.weights!r} must hold exactly one IP-Adapter weight file (.safetensors or .bin), "
                f"found {listed}; name the file itself"
            )
        name = weights[0]
    if not (folder / "image_encoder" / "config.json").is_file():
        raise MissingInputError(
            f"{where}: {shot.production.rel(folder)} has no image_encoder/ folder (the CLIP vision model the "
            "IP-Adapter was trained with, in diffusers layout) beside the weights"
        )
    return folder, name


def _reference_description(shot: Shot) -> dict[str, Any] | None:
    ref = shot.spec.background.reference
    if ref is None:
        return None
    folder, weight_name = reference_weights(shot)
    image = shot.files["background.reference.image"]
    return {
        "image": {"file": shot.production.rel(image), "sha256": file_digest(image)},
        "scale": ref.scale,
        "weights": {
            "source": ref.weights,
            "file": weight_name,
            "sha256": _sampled_digest(folder / weight_name, (folder / weight_name).stat().st_size),
            "image_encoder": model_fingerprint(folder / "image_encoder"),
        },
    }


@dataclasses.dataclass(frozen=True)
class Pass:
    """One pass: what it is (``kind``), its plan, its description, and for inpainting which spec entry."""

    kind: str  # "hires" | "refine" | "inpaint"
    plan: Plan
    description: dict[str, Any]
    inpaint: int | None = None


def _tiles(plan: Plan) -> dict[str, int] | None:
    return {"tile": plan.tile, "overlap": plan.overlap, "count": len(plan.views)} if len(plan.views) > 1 else None


def _inpaint_prompt(shot: Shot, spec: InpaintPass) -> tuple[str, str]:
    prompt, negative = base_plan.full_prompt(shot)
    if spec.prompt:
        style = shot.style.prompt if shot.style is not None else None
        prompt = _join_fragments([style.prefix if style else "", spec.prompt, style.suffix if style else ""])
    if spec.negative_prompt is not None:
        negative = _join_fragments([shot.style.prompt.negative if shot.style else "", spec.negative_prompt])
    return prompt, negative


def passes(shot: Shot, index: int) -> list[Pass]:
    """The cut's passes over canvas ``index``, in the order they run: hi-res, refine, then each inpaint."""
    bg = shot.spec.background
    if bg.hires is None and bg.refine is None and not bg.inpaint:
        return []
    full = _full_plan(shot, index)
    out: list[Pass] = []
    if bg.hires is not None:
        where = f"{shot.display}: background.hires"
        plan = _img2img_plan(full, full.model, bg.hires.strength, bg.hires.steps, where)
        out.append(
            Pass(
                "hires",
                plan,
                {
                    "pass": "hires",
                    "version": PASSES_VERSION,
                    "scale": bg.hires.scale,
                    "from": list(_hires_canvas(shot)),
                    "canvas": list(plan.canvas),
                    "upscale": "bicubic",
                    "strength": plan.strength,
                    "steps": plan.steps,
                    "tiles": _tiles(plan),
                },
            )
        )
    if bg.refine is not None:
        where = f"{shot.display}: background.refine"
        model = _pass_model(shot, bg.refine.model, f"{where}.model", False, full.model)
        plan = _img2img_plan(full, model, bg.refine.strength, bg.refine.steps, where)
        if bg.refine.prompt is not None:
            style = shot.style.prompt if shot.style is not None else None
            plan = dataclasses.replace(
                plan,
                prompt=_join_fragments([style.prefix if style else "", bg.refine.prompt, style.suffix if style else ""]),
            )
        out.append(
            Pass(
                "refine",
                plan,
                {
                    "pass": "refine",
                    "version": PASSES_VERSION,
                    "model": model.identity,
                    "prompt": plan.prompt,
                    "strength": plan.strength,
                    "steps": plan.steps,
                    "tiles": _tiles(plan),
                },
            )
        )
    for i, spec in enumerate(bg.inpaint):
        where = f"{shot.display}: background.inpaint[{i}]"
        model = _pass_model(shot, spec.model, f"{where}.model", True, full.model)
        prompt, negative = _inpaint_prompt(shot, spec)
        plan = dataclasses.replace(
            full,
            model=model,
            controlnet=None,
            control_kind=None,
            source=None,
            strength=spec.strength,
            steps=spec.steps or full.steps,
            seed=full.seed if spec.seed is None else spec.seed,
            prompt=prompt,
            negative=negative,
        )
        _check_steps(plan.steps, spec.strength, where)
        path = shot.files.get(f"background.inpaint[{i}].mask")
        out.append(
            Pass(
                "inpaint",
                plan,
                {
                    "pass": "inpaint",
                    "version": PASSES_VERSION,
                    "mask": {
                        "file": shot.production.rel(path) if path else spec.mask,
                        "sha256": file_digest(path) if path else None,
                    },
                    "feather": spec.feather,
                    "window": {"tile": plan.tile, "context": INPAINT_CONTEXT},
                    "model": model.identity,
                    "prompt": prompt,
                    "negative_prompt": negative if plan.guided else None,
                    "strength": plan.strength,
                    "steps": plan.steps,
                    "seed": plan.seed,
                },
                inpaint=i,
            )
        )
    return out


def stage_descriptions(shot: Shot, index: int) -> list[dict[str, Any]]:
    """The description of every stage of canvas ``index``: the base image, then after each pass in order."""
    base = base_plan.describe(base_shot(shot), index)
    reference = _reference_description(shot)
    if reference is not None:
        base = {**base, "reference": reference}
    listed = [p.description for p in passes(shot, index)]
    return [base] + [{**base, "passes": listed[: k + 1]} for k in range(len(listed))]


def describe(shot: Shot, index: int) -> dict[str, Any]:
    """Everything that changes the pixels of canvas ``index``: the base image's description with the passes
    over it (``"passes"``) and the style reference (``"reference"``), when the cut has them."""
    return stage_descriptions(shot, index)[-1]


# ----------------------------------------------------------------------------------------------------------------
# Running the passes


def _opaque(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.concatenate([rgb.astype(np.float32), np.ones((h, w, 1), np.float32)], axis=2)


def _pil(rgb: np.ndarray) -> Any:
    from PIL import Image  # noqa: PLC0415 (diffusers' own dependency)

    return Image.fromarray(np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8))


@contextmanager
def _ip_adapter(loaded: Any, shot: Shot, plan: Plan) -> Iterator[dict[str, Any]]:
    """The style reference's IP-Adapter loaded into the pipeline for the length of the block; yields the UNet's
    ``added_cond_kwargs`` (the reference's image embeddings). The pipeline is left as it was found."""
    ref = shot.spec.background.reference
    assert ref is not None
    folder, weight_name = reference_weights(shot)
    pipe = loaded.pipe
    where = f"{shot.display}: background.reference.weights"
    from diffusers.utils import logging as diffusers_logging  # noqa: PLC0415

    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # its dtype notes on loading are no business of the artist's
    try:
        pipe.load_ip_adapter(
            str(folder),
            subfolder="",
            weight_name=weight_name,
            image_encoder_folder="image_encoder",
            local_files_only=True,
            low_cpu_mem_usage=False,
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise CompositorError(
            f"{where}: cannot load the IP-Adapter {ref.weights!r} into {plan.model.written!r}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}"
        ) from None
    finally:
        diffusers_logging.set_verbosity(verbosity)
    try:
        pipe.set_ip_adapter_scale(ref.scale)
        image_path = shot.files["background.reference.image"]
        picture = read_input_image(
            image_path, f"{shot.display}: background.reference.image", shot.production.rel(image_path)
        )
        torch = _require(plan.display)
        with torch.inference_mode():
            embeds = pipe.prepare_ip_adapter_image_embeds(
                _pil(ctl.flatten_on_white(picture)), None, torch.device(loaded.device), 1, plan.guided
            )
        yield {"image_embeds": [e.to(loaded.dtype) for e in embeds]}
    finally:
        pipe.unload_ip_adapter()


def _paint_base(shot: Shot, index: int, progress: Progress | None) -> np.ndarray:
    small = base_shot(shot)
    plan = _plan(small, index)
    frame = _read_source(plan)[0] if plan.source is not None else None
    if shot.spec.background.reference is None:
        return _paint_plan(plan, frame, progress)
    loaded = load_pipeline(plan)
    with _ip_adapter(loaded, shot, plan) as added:
        return _paint_plan(plan, frame, progress, added)


def _run_img2img(plan: Plan, image: np.ndarray, progress: Progress | None) -> np.ndarray:
    """Image-to-image over the whole canvas (MultiDiffusion tiles when it is wider than one): RGBA at the
    canvas size."""
    w, h = plan.canvas
    fitted = ctl.pad_to(ctl.resize_to(image[:, :, :3], (w, h)), plan.size)
    loaded = load_pipeline(plan)
    rgb = guarded(plan, lambda: generate(loaded, plan, np.clip(fitted, 0, 1), None, progress))
    return _opaque(np.ascontiguousarray(rgb[:h, :w]))


def _run_inpaint(shot: Shot, step: Pass, image: np.ndarray, progress: Progress | None) -> np.ndarray:
    """Regenerate the masked region of ``image`` (RGBA at the canvas size) and blend it in by the feathered mask."""
    from diffusers import AutoPipelineForInpainting  # noqa: PLC0415

    plan = step.plan
    assert step.inpaint is not None
    weight, _ = mask_weight(shot, step.inpaint)
    w, h = plan.canvas
    pw, ph = plan.size
    padded = ctl.pad_to(image[:, :, :3], plan.size)
    support = np.zeros((ph, pw), bool)
    support[:h, :w] = weight > 0
    x0, y0, x1, y1 = inpaint_window(support, plan.size, plan.tile, plan.factor)
    loaded = load_pipeline(plan)
    torch = _require(plan.display)
    pipe = AutoPipelineForInpainting.from_pipe(loaded.pipe, scheduler=make_scheduler(loaded, plan.scheduler))
    pipe.set_progress_bar_config(disable=True)
    headline = f"{shot.name} background: inpaint {step.inpaint + 1} {x1 - x0}x{y1 - y0}"
    total = max(1, int(plan.steps * plan.strength))
    if progress is not None:
        progress(headline, 0, total)

    def on_step(_pipe: Any, i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if progress is not None:
            progress(headline, min(i + 1, total), total)
        return kwargs

    def run() -> np.ndarray:
        from compositor.backgrounds.diffusion import prompts  # noqa: PLC0415

        with torch.inference_mode():
            # encoded here, at any length (diffusers' own encoding would cut the prompt at 77 tokens)
            text = prompts.encode(loaded.pipe, loaded.family, plan.prompt, plan.negative, loaded.device, True)
            negative, positive = text.embeds.chunk(2)
            conditioning: dict[str, Any] = {"prompt_embeds": positive, "negative_prompt_embeds": negative}
            if text.pooled is not None:
                negative_pooled, pooled = text.pooled.chunk(2)
                conditioning |= {"pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": negative_pooled}
            out = pipe(
                **conditioning,
                image=_pil(padded[y0:y1, x0:x1]),
                mask_image=_pil(np.repeat(support[y0:y1, x0:x1, None].astype(np.float32), 3, axis=2)),
                height=y1 - y0,
                width=x1 - x0,
                strength=plan.strength,
                num_inference_steps=plan.steps,
                guidance_scale=plan.guidance,
                generator=torch.Generator("cpu").manual_seed(plan.seed),
                output_type="np",
                callback_on_step_end=on_step,
            )
        return np.asarray(out.images[0], dtype=np.float32)

    painted = guarded(plan, run)
    region = padded.copy()
    region[y0:y1, x0:x1] = painted
    rgb = blend_region(image[:, :, :3], region[:h, :w], weight)
    return np.concatenate([rgb, image[:, :, 3:4]], axis=2)


def _stage_path(shot: Shot, description: dict[str, Any]) -> Path:
    return cache_file(shot.production.root, content_key(description))


def _store_stage(shot: Shot, index: int, description: dict[str, Any], canvas: np.ndarray) -> np.ndarray:
    """Cache an intermediate stage with its provenance; returns it as stored (what the next pass starts from,
    so a later run that finds it in the cache starts from the very same pixels)."""
    path = _stage_path(shot, description)
    write_image(path, canvas)
    provenance = {"cut": shot.name, "index": index, "stage": len(description.get("passes", [])), **description}
    write_bytes_atomic(path.with_suffix(".json"), json.dumps(provenance, indent=2, default=str).encode())
    return read_image(path)


def paint(shot: Shot, index: int = 0, progress: Progress | None = None) -> np.ndarray:
    """Canvas ``index`` with its passes: the latest stage found in the cache, then the passes after it (each
    stage but the last cached as it is made). Float32 premultiplied RGBA ``(H, W, 4)`` at the canvas size."""
    descriptions = stage_descriptions(shot, index)
    steps = passes(shot, index)
    last = len(descriptions) - 1
    start, canvas = 0, None
    for k in range(last - 1, -1, -1):  # the last stage is the background step's to cache
        path = _stage_path(shot, descriptions[k])
        if path.is_file():
            start, canvas = k, read_image(path)
            break
    if canvas is None:
        canvas = _paint_base(shot, index, progress)
        if last > 0:
            canvas = _store_stage(shot, index, descriptions[0], canvas)
    for k in range(start + 1, last + 1):
        step = steps[k - 1]
        if step.kind == "inpaint":
            canvas = _run_inpaint(shot, step, canvas, progress)
        else:
            canvas = _run_img2img(step.plan, canvas, progress)
        if k < last:
            canvas = _store_stage(shot, index, descriptions[k], canvas)
    return canvas


def paint_frames(shot: Shot, indices: Sequence[int], progress: Progress | None = None) -> Iterator[np.ndarray]:
    """Canvases ``indices`` as ``paint`` makes them (a cut without passes streams its plate as the base does)."""
    bg = shot.spec.background
    if bg.hires is None and bg.refine is None and not bg.inpaint and bg.reference is None:
        yield from _base_paint_frames(shot, indices, progress)
        return
    for i in indices:
        yield paint(shot, i, progress)
