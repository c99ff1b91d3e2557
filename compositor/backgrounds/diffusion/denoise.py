"""The denoising loop of the diffusion background (MultiDiffusion over tiles), and ``paint``: plan, load, generate,
crop to the canvas."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from compositor.backgrounds.diffusion import prompts
from compositor.backgrounds.diffusion.models import _require
from compositor.backgrounds.diffusion.pipeline import LoadedPipeline, load_pipeline, make_scheduler
from compositor.backgrounds.diffusion.plan import (
    CONTROLNET_SCALE,
    Plan,
    View,
    _fit_source,
    _plan,
    _read_source,
)
from compositor.core import control as ctl
from compositor.core.io import FrameSource
from compositor.errors import RenderError

if TYPE_CHECKING:
    from compositor.spec import Shot

Progress = Callable[[str, int, int], None]


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
    added_cond: dict[str, Any] | None = None,
) -> np.ndarray:
    """Run the plan: RGB ``(H, W, 3)`` float32 in [0, 1] at ``plan.size``.

    ``init`` (RGB at ``plan.size``, [0, 1]) is the img2img start when ``plan.strength`` is set; ``control`` (RGB
    at ``plan.size``, [0, 1], lines white) feeds the ControlNet. ``added_cond`` goes to the UNet's
    ``added_cond_kwargs`` at every step (an IP-Adapter's ``image_embeds``: the same for every tile).
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

    _fit_attention(pipe, plan)
    vae_dtype = pipe.vae.dtype  # float32 for SDXL's VAE even in a float16 pipeline (pipeline.load_pipeline)

    with torch.inference_mode():
        conditioning = prompts.encode(pipe, plan.family, plan.prompt, plan.negative, device, plan.guided)
        embeds = conditioning.embeds
        batch = 2 if plan.guided else 1

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
            image = _to_tensor(init, device, vae_dtype) * 2 - 1
            init_latents = (
                pipe.vae.encode(image).latent_dist.sample(generator) * pipe.vae.config.scaling_factor
            ).to(dtype)
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

        def added_conditions(view: View) -> dict[str, Any]:
            """SDXL's pooled text and size conditioning: each tile is told it is a whole, uncropped picture of
            its own size (what a single tile gets, so a canvas of one tile matches diffusers' SDXL pipeline)."""
            if conditioning.pooled is None:
                return {}
            x0, y0, x1, y1 = view
            size = [(y1 - y0) * f, (x1 - x0) * f]
            time_ids = torch.tensor([size + [0, 0] + size] * batch, device=device, dtype=dtype)
            return {"added_cond_kwargs": {"text_embeds": conditioning.pooled, "time_ids": time_ids}}

        def predict(x: Any, t: Any, view: View) -> Any:
            model_input = torch.cat([x, x]) if plan.guided else x
            model_input = scheduler.scale_model_input(model_input, t)
            added = added_conditions(view)
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
                    **added,
                )
                residuals = {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}
            unet_added = added
            if added_cond:  # an IP-Adapter's image embeddings join SDXL's conditioning (not the ControlNet's)
                unet_added = {"added_cond_kwargs": {**added.get("added_cond_kwargs", {}), **added_cond}}
            noise = pipe.unet(
                model_input, t, encoder_hidden_states=embeds, return_dict=False, **residuals, **unet_added
            )[0]
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
            (latents / pipe.vae.config.scaling_factor).to(vae_dtype), return_dict=False, generator=generator
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
    frames = FrameSource(source.path, f"{shot.display}: {source.key}", hold_missing=source.hold_missing).frames(
        start=first, count=last - first + 1
    )
    painted: dict[int, np.ndarray] = {}
    for i, frame in enumerate(frames, start=first):
        if i in wanted:
            painted[i] = _paint_plan(plans[i], frame, progress)
    for i in indices:
        yield painted[i]


def _paint_plan(
    plan: Plan, frame: np.ndarray | None, progress: Progress | None, added_cond: dict[str, Any] | None = None
) -> np.ndarray:
    init = control = None
    if frame is not None:
        fitted = _fit_source(plan, frame)
        if plan.strength is not None:
            init = ctl.flatten_on_white(fitted)
        if plan.controlnet is not None:
            control = ctl.control_image(fitted, plan.control_kind or "lineart")
    loaded = load_pipeline(plan)
    rgb = guarded(plan, lambda: generate(loaded, plan, init, control, progress, added_cond))
    w, h = plan.canvas
    rgb = np.ascontiguousarray(rgb[:h, :w], dtype=np.float32)
    return np.concatenate([rgb, np.ones((h, w, 1), np.float32)], axis=2)


ATTENTION_HEADROOM = 2.0
"""Slice attention when free GPU memory is under this many times what one unsliced attention layer needs."""


def _fit_attention(pipe: Any, plan: Plan) -> None:
    """On CUDA, compute attention one head at a time when the GPU is short of memory for the tile's largest
    attention matrix (same results, less memory, a little slower); unsliced otherwise."""
    import torch  # noqa: PLC0415

    if plan.device != "cuda":
        return
    free, _total = torch.cuda.mem_get_info()
    x0, y0, x1, y1 = plan.views[0]
    # SD 1.x attends at the latent's full resolution; SDXL's first attention is one level down
    tokens = (x1 - x0) * (y1 - y0) // (4 if plan.family == "sdxl" else 1)
    heads = 20 if plan.family == "sdxl" else 8
    need = (2 if plan.guided else 1) * heads * tokens * tokens * (2 if plan.dtype != "float32" else 4)
    if free < ATTENTION_HEADROOM * need:
        pipe.enable_attention_slicing("max")
    else:
        pipe.disable_attention_slicing()


def guarded(plan: Plan, run: Any) -> Any:
    """``run()``, with the device running out of memory said in one line that names what to lower."""
    torch = _require(plan.display)
    try:
        return run()
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise RenderError(_out_of_memory(plan)) from None
    except RuntimeError as e:
        if "out of memory" not in str(e).lower():
            raise
        raise RenderError(_out_of_memory(plan)) from None


def _out_of_memory(plan: Plan) -> str:
    w, h = plan.canvas
    levers = [
        f"lower background.tile (now {plan.tile}; {len(plan.views)} tiles) or background.canvas ({w}x{h})"
    ]
    if plan.dtype == "float32" and plan.device != "cpu":
        levers.append('set background.dtype = "float16"')
    if plan.loras:
        levers.append(f"drop some of the {len(plan.loras)} LoRA(s)")
    levers.append("free the GPU of other work")
    levers.append('or set background.device = "cpu" (slow, but bounded by system memory)')
    return (
        f"{plan.display}: background: out of {plan.device} memory generating {plan.mode} {w}x{h} in {plan.dtype}; "
        + ", ".join(levers)
    )
