"""Diffusers pipelines for the diffusion background, loaded once per process, and fresh schedulers for them."""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import dataclass
from typing import Any

from compositor.backgrounds.diffusion.models import INSTALL_HINT, _quiet_libraries, _require
from compositor.backgrounds.diffusion.plan import SCHEDULERS, Plan
from compositor.errors import BackendMissingError, CorruptInputError, RenderError

# ----------------------------------------------------------------------------------------------------------------
# Pipelines, loaded once per process


@dataclass
class LoadedPipeline:
    key: tuple[Any, ...]
    pipe: Any  # diffusers.StableDiffusionPipeline or StableDiffusionXLPipeline
    controlnet: Any | None  # diffusers.ControlNetModel
    device: str
    dtype: Any  # torch.dtype
    family: str = "sd"
    """``"sd"`` or ``"sdxl"`` (``pipeline_class`` gives the diffusers class for each task)."""
    loras: tuple[tuple[str, float], ...] = ()
    """The LoRAs now laid over ``pipe``: (path, weight) in order."""


PIPELINE_CLASSES: dict[str, dict[str, str]] = {
    "sd": {
        "txt2img": "StableDiffusionPipeline",
        "img2img": "StableDiffusionImg2ImgPipeline",
        "inpaint": "StableDiffusionInpaintPipeline",
        "controlnet": "StableDiffusionControlNetPipeline",
        "controlnet_img2img": "StableDiffusionControlNetImg2ImgPipeline",
        "controlnet_inpaint": "StableDiffusionControlNetInpaintPipeline",
    },
    "sdxl": {
        "txt2img": "StableDiffusionXLPipeline",
        "img2img": "StableDiffusionXLImg2ImgPipeline",
        "inpaint": "StableDiffusionXLInpaintPipeline",
        "controlnet": "StableDiffusionXLControlNetPipeline",
        "controlnet_img2img": "StableDiffusionXLControlNetImg2ImgPipeline",
        "controlnet_inpaint": "StableDiffusionXLControlNetInpaintPipeline",
    },
}
"""Model family → task → the diffusers pipeline class that runs it."""


def pipeline_class(family: str, task: str) -> Any:
    """The diffusers pipeline class for ``task`` (a key of ``PIPELINE_CLASSES``) on a model of ``family``."""
    import diffusers  # noqa: PLC0415

    return getattr(diffusers, PIPELINE_CLASSES[family][task])


def task_pipeline(loaded: LoadedPipeline, task: str) -> Any:
    """A diffusers pipeline for ``task`` (``"inpaint"``, ``"img2img"``, ...) sharing the loaded model's weights.

    Nothing is loaded or copied: the components (with any LoRA laid over them) are the loaded pipeline's own, so
    the model stays once in memory. ControlNet tasks take the loaded ControlNet.
    """
    cls = pipeline_class(loaded.family, task)
    components = dict(loaded.pipe.components)
    if task.startswith("controlnet"):
        components["controlnet"] = loaded.controlnet
    wanted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    pipe = cls(**{k: v for k, v in components.items() if k in wanted})
    pipe.set_progress_bar_config(disable=True)
    return pipe


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
    key = _pipeline_key(plan)
    if _LOADED and _LOADED[0].key == key:
        _apply_loras(_LOADED[0], plan)
        return _LOADED[0]
    clear_pipeline_cache()
    torch = _require(plan.display)
    _quiet_libraries()
    from diffusers import ControlNetModel  # noqa: PLC0415

    dtype = getattr(torch, plan.dtype)
    cls = pipeline_class(plan.family, "txt2img")
    extra = (
        {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
        if plan.family == "sd"
        else {}
    )
    where = f"{plan.display}: background.model"
    try:
        if plan.model.file is not None:
            # The configs and tokenizers come from a local folder: nothing is fetched, with or without a network.
            pipe = cls.from_single_file(
                str(plan.model.file), config=str(plan.model.folder), local_files_only=True, torch_dtype=dtype, **extra
            )
            _v_prediction(pipe, plan)
        else:
            pipe = cls.from_pretrained(str(plan.model.folder), dtype=dtype, **extra)
    except Exception as e:  # noqa: BLE001 (diffusers raises its own kinds too; each says what is wrong)
        if type(e).__name__ == "OutOfMemoryError":
            raise
        source = plan.model.file or plan.model.folder
        raise CorruptInputError(f"{where}: cannot load {plan.model.written!r} from {source}: {_first_line(e)}") from None
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
        if plan.family == "sdxl" and dtype == torch.float16 and pipe.vae.config.get("force_upcast", False):
            # SDXL's VAE overflows in float16 (black or NaN pictures); diffusers' SDXL pipelines run it in float32
            pipe.vae.to(torch.float32)
    except torch.cuda.OutOfMemoryError:
        raise RenderError(
            f"{plan.display}: background.model: the model does not fit in GPU memory in {plan.dtype}; "
            'set background.dtype = "float16", free the GPU, or set background.device = "cpu"'
        ) from None
    loaded = LoadedPipeline(key, pipe, net, plan.device, dtype, plan.family)
    _apply_loras(loaded, plan)
    _LOADED.append(loaded)
    return loaded


def _v_prediction(pipe: Any, plan: Plan) -> None:
    """A checkpoint marked ``v_pred`` (some anime SDXL fine-tunes are trained to predict velocity, with a zero
    terminal SNR) gets a scheduler that reads its output that way; the shipped configs assume epsilon."""
    from compositor.backgrounds.diffusion.checkpoints import read_shapes  # noqa: PLC0415

    assert plan.model.file is not None
    shapes = read_shapes(plan.model.file, f"{plan.display}: background.model")
    if "v_pred" in shapes and pipe.scheduler.config.get("prediction_type") != "v_prediction":
        overrides: dict[str, Any] = {"prediction_type": "v_prediction"}
        if "ztsnr" in shapes:
            overrides["rescale_betas_zero_snr"] = True
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, **overrides)


def _pipeline_key(plan: Plan) -> tuple[Any, ...]:
    return (
        str(plan.model.folder),
        str(plan.model.file),
        json.dumps(plan.model.identity, sort_keys=True),
        str(plan.controlnet.folder) if plan.controlnet else None,
        json.dumps(plan.controlnet.identity, sort_keys=True) if plan.controlnet else None,
        plan.device,
        plan.dtype,
    )


def adopt_pipeline(plan: Plan, pipe: Any, controlnet: Any | None = None) -> LoadedPipeline:
    """Use ``pipe`` (built in memory, already on the plan's device and dtype) as the plan's loaded model.

    For benchmarks that time a full-size architecture with random weights (nothing to download) through the
    backend's own generation path.
    """
    import torch  # noqa: PLC0415

    clear_pipeline_cache()
    pipe.set_progress_bar_config(disable=True)
    loaded = LoadedPipeline(
        _pipeline_key(plan), pipe, controlnet, plan.device, getattr(torch, plan.dtype), plan.family
    )
    _apply_loras(loaded, plan)
    _LOADED.append(loaded)
    return loaded


def _apply_loras(loaded: LoadedPipeline, plan: Plan) -> None:
    """Lay the plan's LoRAs over the loaded pipeline with their weights (the base model is not reloaded)."""
    wanted = tuple((str(lora.path), lora.weight) for lora in plan.loras)
    if loaded.loras == wanted:
        return
    pipe = loaded.pipe
    if loaded.loras:
        pipe.unload_lora_weights()
        loaded.loras = ()
    if not wanted:
        return
    names = []
    for i, lora in enumerate(plan.loras):
        name = f"lora{i}"
        try:
            pipe.load_lora_weights(str(lora.path), adapter_name=name)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            if "peft" in str(e).lower() and "install" in str(e).lower():
                raise BackendMissingError(
                    f"{plan.display}: background.lora: LoRAs need peft; {INSTALL_HINT}"
                ) from None
            pipe.unload_lora_weights()
            raise CorruptInputError(
                f"{plan.display}: background.lora[{i}].path: cannot lay {lora.written!r} over "
                f"{plan.model.written!r}: {_first_line(e)}"
            ) from None
        names.append(name)
    pipe.set_adapters(names, adapter_weights=[lora.weight for lora in plan.loras])
    loaded.loras = wanted


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
