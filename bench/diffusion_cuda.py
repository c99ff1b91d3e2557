"""Seconds per denoising step of the diffusion background, on CUDA in half precision.

Renders one cut through the backend's own path (``load_shot`` → ``describe`` → ``paint``). By default the model is
the tiny random-weight one the tests build (``tests/diffusion_fixtures.py``), so it runs on any machine with a GPU
and downloads nothing; the cut is a wide canvas with a layout drawing and the ControlNet, the heaviest path
(every tile runs the ControlNet and the UNet, twice for guidance). A real model can be given instead.

    python bench/diffusion_cuda.py                                   # tiny model, 512x128, 10 steps
    python bench/diffusion_cuda.py --model models/sd15 --controlnet models/sd15-lineart \
        --canvas 1536 512 --steps 20                                 # a real SD 1.5 + line-art ControlNet
    python bench/diffusion_cuda.py --device cpu --dtype float32      # the same cut on the CPU

With ``--sdxl`` it times SDXL instead: seconds per 1024x1024 image and per 2560x1440 MultiDiffusion pan (1024 tiles
overlapping by half), txt2img, float16. Without a model (``--sdxl`` alone) the SDXL architecture is built from the
configs shipped in ``compositor/backgrounds/diffusion/configs/sdxl`` with random weights on the GPU (nothing to
download; the arithmetic, and so the time, is a real SDXL's; the pictures are noise); ``--sdxl MODEL`` times a real
folder or single-file checkpoint.

    python bench/diffusion_cuda.py --sdxl                             # random-weight SDXL, 20 steps
    python bench/diffusion_cuda.py --sdxl models/anime-xl.safetensors --steps 30

Reported: model load seconds, the first render (warm-up), then seconds per step over all tiles and per tile-step
for a second render, peak GPU memory, whether the rerun gave identical pixels, and for the tiny model on CUDA the
largest difference from a CPU float32 render of the same cut (how far half precision on a GPU moves the pixels).
Without a CUDA device (and no --device given) it says so and exits 0, so ``make bench`` passes anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from compositor.spec import Production, load_shot  # noqa: E402

CUT = "sc010_c010"


def write_production(
    root: Path,
    model: str,
    controlnet: str | None,
    canvas: tuple[int, int],
    steps: int,
    device: str,
    dtype: str,
) -> Production:
    """A one-cut production: a layout drawing of the canvas's size and a diffusion background over it."""
    shutil.copytree(ROOT / "templates", root / "templates", dirs_exist_ok=True)
    cut = root / "shots" / CUT
    (cut / "plates").mkdir(parents=True, exist_ok=True)
    w, h = canvas
    frame = (min(w, 1280), min(h, 720))
    (root / "shots" / "edit.toml").write_text(
        f'[edit]\nname = "bench"\nsize = [{frame[0]}, {frame[1]}]\nslate = 0\ncuts = ["{CUT}"]\n'
        f'[diffusion]\nmodel = "{model}"\nsteps = {steps}\ndevice = "{device}"\ndtype = "{dtype}"\n'
        + (f'controlnet = "{controlnet}"\n' if controlnet else "")
    )
    layout = np.full((h, w, 3), 245, np.uint8)
    cv2.line(layout, (0, h * 2 // 3), (w - 1, h * 2 // 3 - h // 16), (30, 30, 30), max(2, h // 128))
    for x in range(w // 10, w, w // 5):
        cv2.rectangle(layout, (x, h // 3), (x + w // 14, h * 2 // 3), (20, 20, 20), max(2, h // 128))
    cv2.imwrite(str(cut / "plates" / "layout.png"), layout)
    (cut / "shot.toml").write_text(
        '[shot]\nframes = 1\n[background]\nsource = "diffusion"\nstyle = "dusk"\n'
        'prompt = "a row of houses along a quiet road"\nseed = 1\n'
        f"canvas = [{w}, {h}]\n" + ('layout = "plates/layout.png"\n' if controlnet else "")
    )
    return Production(root)


def timed_render(shot, torch, cuda: bool) -> tuple[np.ndarray, list[float], float]:
    """Paint the cut; returns the canvas, the time of every tile-step callback, and the total seconds."""
    from compositor.backgrounds import diffusion

    marks: list[float] = []

    def progress(_description: str, completed: int, _total: int) -> None:
        if cuda:
            torch.cuda.synchronize()
        if completed:
            marks.append(time.perf_counter())

    start = time.perf_counter()
    image = diffusion.paint(shot, 0, progress)
    return image, marks, time.perf_counter() - start


def random_sdxl(torch, dtype):
    """SDXL base's architecture from the shipped configs with random weights, built on the GPU."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from compositor.backgrounds.diffusion.checkpoints import shipped_config

    folder = shipped_config("sdxl")
    with torch.device("cuda"):
        torch.manual_seed(0)
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet")).to(dtype)
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae")).to(torch.float32)
        te = CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder")).to(dtype)
        te2 = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(folder / "text_encoder_2")).to(dtype)
    # random weights can overflow float16 where trained ones do not; keep the arithmetic, tame the values
    with torch.no_grad():
        for module in (unet, te, te2):
            for p in module.parameters():
                p.mul_(0.5)
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=te,
        text_encoder_2=te2,
        tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(folder / "tokenizer_2"),
        unet=unet,
        scheduler=EulerDiscreteScheduler.from_pretrained(folder / "scheduler"),
    )
    return folder, pipe


def bench_sdxl(args, torch) -> int:
    """Seconds per 1024x1024 SDXL image and per 2560x1440 MultiDiffusion pan, on CUDA in float16."""
    from compositor.backgrounds import diffusion

    if not torch.cuda.is_available():
        print("diffusion_cuda --sdxl: no CUDA device here; skipped")
        return 0
    dtype = args.dtype or "float16"
    steps = args.steps if args.steps != 10 else 20
    results = []
    with tempfile.TemporaryDirectory(prefix="compositor-bench-") as tmp:
        t0 = time.perf_counter()
        if args.sdxl == "random":
            model, pipe = random_sdxl(torch, getattr(torch, dtype))
        else:
            model, pipe = Path(args.sdxl).resolve(), None
        for canvas in ((1024, 1024), (2560, 1440)):
            production = write_production(Path(tmp) / f"p{canvas[0]}", str(model), None, canvas, steps, "cuda", dtype)
            shot = load_shot(production, CUT)
            plan = diffusion._plan(shot, 0)
            if pipe is not None:
                diffusion.adopt_pipeline(plan, pipe.to("cuda"))
            else:
                diffusion.load_pipeline(plan)
            load_s = time.perf_counter() - t0
            torch.cuda.reset_peak_memory_stats()
            timed_render(shot, torch, True)  # warm-up (kernels, allocator)
            image, marks, total_s = timed_render(shot, torch, True)
            results.append(
                {
                    "device": torch.cuda.get_device_name(0),
                    "model": "random-weight SDXL (shipped configs)" if pipe is not None else str(model),
                    "canvas": list(canvas),
                    "tiles": len(plan.views),
                    "steps": steps,
                    "dtype": dtype,
                    "load_s": round(load_s, 2),
                    "s_per_image": round(total_s, 3),
                    "s_per_step": round(total_s / steps, 4),
                    "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
                    "finite": bool(np.isfinite(image).all()),
                }
            )
            t0 = time.perf_counter()
    for result in results:
        print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sdxl", nargs="?", const="random", metavar="MODEL",
        help="time SDXL at 1024x1024 and a 2560x1440 pan (default: random weights from the shipped configs)",
    )
    parser.add_argument("--model", help="a diffusers model folder or hub id (default: the tests' tiny model)")
    parser.add_argument(
        "--controlnet", help="a ControlNet folder or id (default with the tiny model: its own)"
    )
    parser.add_argument(
        "--canvas", type=int, nargs=2, metavar=("W", "H"), help="default 512 128 (tiny), 1024 512"
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=["cuda", "mps", "cpu"])
    parser.add_argument("--dtype", choices=["float16", "bfloat16", "float32"])
    args = parser.parse_args()

    import torch

    if args.sdxl:
        return bench_sdxl(args, torch)
    cuda = torch.cuda.is_available()
    device = args.device or "cuda"
    if device == "cuda" and not cuda:
        print("diffusion_cuda: no CUDA device here; skipped (pass --device cpu to time the CPU)")
        return 0
    dtype = args.dtype or ("float16" if device == "cuda" else "float32")
    on_cuda = device == "cuda"

    with tempfile.TemporaryDirectory(prefix="compositor-bench-") as tmp:
        tmp_path = Path(tmp)
        tiny = args.model is None
        if tiny:
            from tests.diffusion_fixtures import build_tiny_model

            paths = build_tiny_model(tmp_path / "tiny")
            model, controlnet = str(paths["model"]), str(paths["controlnet"])
            canvas = tuple(args.canvas or (512, 128))
        else:
            model, controlnet = args.model, args.controlnet
            canvas = tuple(args.canvas or (1024, 512))
            if not Path(model).is_absolute() and Path(model).exists():
                model = str(Path(model).resolve())
            if controlnet and not Path(controlnet).is_absolute() and Path(controlnet).exists():
                controlnet = str(Path(controlnet).resolve())

        from compositor.backgrounds import diffusion

        production = write_production(tmp_path / "prod", model, controlnet, canvas, args.steps, device, dtype)
        shot = load_shot(production, CUT)
        plan = diffusion._plan(shot, 0)
        t0 = time.perf_counter()
        diffusion.load_pipeline(plan)
        load_s = time.perf_counter() - t0
        if on_cuda:
            torch.cuda.reset_peak_memory_stats()

        first, _, first_s = timed_render(shot, torch, on_cuda)
        second, marks, total_s = timed_render(shot, torch, on_cuda)
        tiles = len(plan.views)
        steps_run = len(marks) // tiles
        per_step = [marks[(i + 1) * tiles - 1] - marks[i * tiles - 1] for i in range(1, steps_run)]
        result = {
            "device": torch.cuda.get_device_name(0) if on_cuda else device,
            "dtype": dtype,
            "model": "tiny (tests/diffusion_fixtures.py)" if tiny else model,
            "controlnet": "tiny" if tiny else controlnet,
            "mode": plan.mode,
            "canvas": list(canvas),
            "tiles": tiles,
            "tile": plan.tile,
            "steps": steps_run,
            "load_s": round(load_s, 3),
            "first_render_s": round(first_s, 3),
            "render_s": round(total_s, 3),
            "s_per_step": round(float(np.median(per_step)), 5) if per_step else None,
            "s_per_tile_step": round(float(np.median(per_step)) / tiles, 6) if per_step else None,
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if on_cuda else None,
            "rerun_identical": bool(np.array_equal(first, second)),
            "finite": bool(np.isfinite(second).all()),
        }
        if tiny and on_cuda:
            diffusion.clear_pipeline_cache()
            cpu_text = (production.shots / "edit.toml").read_text()
            cpu_text = cpu_text.replace('device = "cuda"', 'device = "cpu"').replace(
                f'dtype = "{dtype}"', 'dtype = "float32"'
            )
            (production.shots / "edit.toml").write_text(cpu_text)
            reference = diffusion.paint(load_shot(production, CUT), 0)
            result["max_diff_vs_cpu_float32"] = round(float(np.abs(reference - second).max()), 5)
            result["mean_diff_vs_cpu_float32"] = round(float(np.abs(reference - second).mean()), 6)

    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
