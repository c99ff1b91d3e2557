"""The diffusion background backend: Stable Diffusion 1.x/2.x and SDXL-family models through diffusers, from a
diffusers folder or one ``.safetensors``/``.ckpt`` checkpoint, with LoRAs and prompts of any length.

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

This package's interface, called by the background step (``compositor.backgrounds``), which caches by the hash
of ``describe`` and lays the retouch on top:

- ``frame_count(shot)``: how many canvases (1, or the cut's frames with ``per_frame``).
- ``describe(shot, index)``: a JSON-able dict of everything that changes the pixels of canvas ``index``.
- ``paint(shot, index, progress)``: canvas ``index`` as float32 premultiplied RGBA ``(H, W, 4)``.

torch, diffusers and transformers are imported inside the functions that need them; importing this package
costs nothing.

The package's modules, each importing only those listed before it:

- ``checkpoints``: single-file checkpoints and LoRA files read without torch (names, shapes, family), and the
  configs shipped for them (imported by ``models`` only when a file is given).
- ``models``: lazy imports of torch and diffusers, where a setting came from, model folders, checkpoint files, hub
  ids and LoRAs, and the fingerprints that identify their weights.
- ``plan``: ``Plan``, everything that decides one canvas, resolved and checked before any weights load; the
  source pictures; ``frame_count`` and ``describe``.
- ``pipeline``: the diffusers pipeline (SD or SDXL), loaded once per process with its LoRAs, its schedulers, and
  the pipeline of another task (inpaint, img2img, ...) sharing its weights (``task_pipeline``).
- ``prompts``: prompts longer than CLIP's 77 tokens, encoded in chunks.
- ``denoise``: the MultiDiffusion denoising loop, ``paint`` and ``paint_frames``.
- ``passes``: the passes over a generated image (hi-res, refine, inpaint) and the IP-Adapter style reference,
  each stage cached by its own key; the package's ``describe``, ``paint`` and ``paint_frames`` are its.
"""

from compositor.backgrounds.diffusion.denoise import (
    Progress,
    denoise_tiles,
    generate,
    paint,
    paint_frames,
)
from compositor.backgrounds.diffusion.models import INSTALL_HINT, LoraRef, ModelRef, model_fingerprint
from compositor.backgrounds.diffusion.pipeline import (
    _LOADED,
    PIPELINE_CLASSES,
    LoadedPipeline,
    clear_pipeline_cache,
    load_pipeline,
    make_scheduler,
    pipeline_class,
    task_pipeline,
)
from compositor.backgrounds.diffusion.plan import (
    BACKEND_VERSION,
    CONTROLNET_SCALE,
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH_LAYOUT,
    DEFAULT_STRENGTH_PER_FRAME,
    SCHEDULERS,
    VAE_TILING_AREA,
    Plan,
    Source,
    View,
    _plan,
    describe,
    frame_count,
    full_prompt,
    tile_views,
)

__all__ = [
    "BACKEND_VERSION",
    "CONTROLNET_SCALE",
    "DEFAULT_GUIDANCE",
    "DEFAULT_STEPS",
    "DEFAULT_STRENGTH_LAYOUT",
    "DEFAULT_STRENGTH_PER_FRAME",
    "INSTALL_HINT",
    "PIPELINE_CLASSES",
    "SCHEDULERS",
    "VAE_TILING_AREA",
    "_LOADED",
    "LoadedPipeline",
    "LoraRef",
    "ModelRef",
    "Plan",
    "Progress",
    "Source",
    "View",
    "_plan",
    "clear_pipeline_cache",
    "denoise_tiles",
    "describe",
    "frame_count",
    "full_prompt",
    "generate",
    "load_pipeline",
    "make_scheduler",
    "model_fingerprint",
    "paint",
    "paint_frames",
    "pipeline_class",
    "task_pipeline",
    "tile_views",
]

# The backend's interface with the passes (hi-res, refine, inpaint, style reference) over the base image; a cut
# without them is described and painted exactly as the base alone.
from compositor.backgrounds.diffusion.passes import describe, paint, paint_frames  # noqa: E402, F811
