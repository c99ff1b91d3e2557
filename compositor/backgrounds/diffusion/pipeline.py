"""Diffusers pipelines for the diffusion background, loaded once per process, and fresh schedulers for them."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from compositor.backgrounds.diffusion.models import _quiet_libraries, _require
from compositor.backgrounds.diffusion.plan import SCHEDULERS, Plan
from compositor.errors import CorruptInputError, RenderError

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
