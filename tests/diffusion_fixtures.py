"""Tiny random-weight Stable Diffusion models for tests, saved in diffusers layout.

``build_tiny_model(folder)`` writes a Stable Diffusion 1.x-shaped pipeline (UNet, VAE, CLIP text encoder and
tokenizer, DDIM scheduler) and a matching ControlNet under ``folder``, small enough that a 64 px image takes a
fraction of a second on a CPU. The images are noise, but every mechanism the backend uses is the real one: the
folders are loaded by diffusers' own ``from_pretrained``, the VAE downsamples by 8 as Stable Diffusion's does, the
native tile is ``unet.sample_size * 8 = 64`` px, and the ControlNet's conditioning embedding downsamples by the
same factor of 8.

Import torch lazily: the build takes a few seconds of imports, so tests call it once per session.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

# The tests must never reach a model hub; huggingface_hub reads this when it is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

TINY_SIZE = 64
"""The tiny model's native size in pixels (UNet sample size 8 × VAE factor 8)."""


def _byte_level_vocab() -> dict[str, int]:
    """A CLIP BPE vocabulary with no merges: every byte alone and at a word's end, plus the two specials.

    CLIP's tokenizer maps bytes to printable characters (GPT-2's ``bytes_to_unicode``) and marks the last symbol of
    a word with ``</w>``; with these 2 × 256 symbols every string tokenizes, one symbol per byte.
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    return vocab


def build_tokenizer(folder: Path):  # -> transformers.CLIPTokenizer
    """Write ``vocab.json`` and ``merges.txt`` for the byte-level vocabulary and load a CLIPTokenizer from them."""
    from transformers import CLIPTokenizer  # noqa: PLC0415 (heavy)

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(_byte_level_vocab()), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def _init_convs(module, seed: int, gain: float) -> None:
    """Give every convolution of ``module`` normal weights of standard deviation ``gain / sqrt(fan_in)``.

    A fresh ControlNet's output convolutions are zero (so it changes nothing), and its default initialisation
    shrinks the control image to almost nothing through the seven layers of its conditioning embedding; a trained
    ControlNet does neither, and the tests need one that visibly follows its control image.
    """
    import torch  # noqa: PLC0415

    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * gain / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.zero_()


def build_tiny_model(folder: Path, controlnet: bool = True) -> dict[str, Path]:
    """Build and save a tiny random Stable Diffusion pipeline (and ControlNet) under ``folder``.

    Returns ``{"model": folder/"sd", "controlnet": folder/"controlnet"}`` (no ``controlnet`` key when
    ``controlnet`` is false). The weights are seeded, so two builds with one torch version are identical.
    """
    import torch  # noqa: PLC0415
    from diffusers import (  # noqa: PLC0415
        AutoencoderKL,
        ControlNetModel,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from diffusers.utils import logging as diffusers_logging  # noqa: PLC0415
    from transformers import CLIPTextConfig, CLIPTextModel  # noqa: PLC0415
    from transformers.utils import logging as transformers_logging  # noqa: PLC0415

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {"model": folder / "sd"}
    tokenizer = build_tokenizer(folder / "tokenizer-src")

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=TINY_SIZE // 8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=4,
    )
    torch.manual_seed(1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=TINY_SIZE,
    )
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            layer_norm_eps=1e-5,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out["model"], safe_serialization=True)

    if controlnet:
        torch.manual_seed(3)
        net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8, 16, 16))
        _init_convs(net.controlnet_cond_embedding, seed=4, gain=2.0)
        _init_convs(net.controlnet_down_blocks, seed=5, gain=1.0)
        _init_convs(net.controlnet_mid_block, seed=6, gain=1.0)
        out["controlnet"] = folder / "controlnet"
        net.save_pretrained(out["controlnet"], safe_serialization=True)
    return out


def parameter_counts(paths: dict[str, Path]) -> dict[str, int]:
    """Parameters per component of a saved tiny model (for the record; the tests keep them small)."""
    from safetensors import safe_open  # noqa: PLC0415

    counts: dict[str, int] = {}
    roots = {name: paths["model"] / name for name in ("unet", "vae", "text_encoder")}
    if "controlnet" in paths:
        roots["controlnet"] = paths["controlnet"]
    for name, root in roots.items():
        total = 0
        for f in root.glob("*.safetensors"):
            with safe_open(str(f), "np") as st:
                total += sum(math.prod(st.get_slice(key).get_shape()) for key in st.keys())  # noqa: SIM118 (safe_open is no dict)
        counts[name] = total
    return counts


def build_tiny_inpaint_model(folder: Path, base: Path) -> Path:
    """A tiny inpainting model (a 9-channel UNet: latents, mask, masked-image latents) sharing ``base``'s VAE, text
    encoder and tokenizer, saved in diffusers layout as ``folder/sd-inpaint``; seeded."""
    import torch  # noqa: PLC0415
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline, UNet2DConditionModel  # noqa: PLC0415

    pipe = StableDiffusionPipeline.from_pretrained(str(base), safety_checker=None, requires_safety_checker=False)
    config = dict(pipe.unet.config)
    config["in_channels"] = 9
    torch.manual_seed(7)
    unet = UNet2DConditionModel.from_config(config)
    inpaint = StableDiffusionInpaintPipeline(
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        unet=unet,
        scheduler=pipe.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out = Path(folder) / "sd-inpaint"
    inpaint.save_pretrained(out, safe_serialization=True)
    return out


def build_tiny_ip_adapter(folder: Path, base: Path, seed: int = 8) -> Path:
    """A tiny random IP-Adapter for ``base``'s UNet, as such folders are published: ``ip-adapter.safetensors``
    (``image_proj.*``: the image projection; ``ip_adapter.<n>.to_k_ip/to_v_ip``: a key and value projection for
    every cross-attention layer, numbered 1, 3, 5, ... in the UNet's processor order) and ``image_encoder/``
    (a CLIP vision model with projection). Returns the folder."""
    import torch  # noqa: PLC0415
    from diffusers import UNet2DConditionModel  # noqa: PLC0415
    from safetensors.torch import save_file  # noqa: PLC0415
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection  # noqa: PLC0415

    out = Path(folder) / "ip-adapter"
    unet = UNet2DConditionModel.from_pretrained(str(base), subfolder="unet")
    width = unet.config.cross_attention_dim
    channels = list(unet.config.block_out_channels)
    gen = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    tokens = 4
    tensors["image_proj.proj.weight"] = torch.randn((tokens * width, width), generator=gen) / math.sqrt(width)
    tensors["image_proj.proj.bias"] = torch.zeros(tokens * width)
    tensors["image_proj.norm.weight"] = torch.ones(width)
    tensors["image_proj.norm.bias"] = torch.zeros(width)
    number = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):  # self-attention: no image tokens
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name.split(".")[1])]
        else:
            hidden = channels[int(name.split(".")[1])]
        for which in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{number}.{which}.weight"] = torch.randn((hidden, width), generator=gen)
        number += 2
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "ip-adapter.safetensors"))
    torch.manual_seed(seed + 1)
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            projection_dim=width,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
            num_channels=3,
        )
    )
    encoder.save_pretrained(out / "image_encoder", safe_serialization=True)
    return out
