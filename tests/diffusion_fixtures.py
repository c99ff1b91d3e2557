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


def tiny_vae(seed: int, scaling_factor: float = 0.18215):  # noqa: ANN201
    """The tiny seeded VAE both families' test models share (SD 1.x's latent scale unless told)."""
    import torch  # noqa: PLC0415
    from diffusers import AutoencoderKL  # noqa: PLC0415

    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=TINY_SIZE,
        scaling_factor=scaling_factor,
    )


def build_tiny_model(folder: Path, controlnet: bool = True) -> dict[str, Path]:
    """Build and save a tiny random Stable Diffusion pipeline (and ControlNet) under ``folder``.

    Returns ``{"model": folder/"sd", "controlnet": folder/"controlnet"}`` (no ``controlnet`` key when
    ``controlnet`` is false). The weights are seeded, so two builds with one torch version are identical.
    """
    import torch  # noqa: PLC0415
    from diffusers import (  # noqa: PLC0415
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
    vae = tiny_vae(seed=1)
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


# ----------------------------------------------------------------------------------------------------------------
# SDXL: two text encoders, micro-conditioning on sizes, saved as a folder and as one checkpoint file

TINY_XL_TEXT_WIDTHS = (32, 48)
"""The tiny SDXL text encoders' widths. They differ, as SDXL's 768 and 1280 do (diffusers' single-file loader tells
the two apart by it); the UNet's cross-attention sees both side by side (80), unlike the tiny SD 1.x model's 32, so
a ControlNet of one does not fit the other."""


def build_tiny_sdxl(folder: Path, controlnet: bool = True) -> dict[str, Path]:
    """Build and save a tiny random SDXL-shaped pipeline under ``folder``.

    Returns ``{"model": folder/"sdxl", "checkpoint": folder/"sdxl.safetensors", "controlnet": ...,
    "lora": folder/"lora.safetensors"}``: the diffusers folder, the same weights as one checkpoint in the original
    (Stability AI) key layout that ``from_single_file`` reads, a ControlNet made from the UNet, and a LoRA on the
    UNet's attention whose effect is visible.
    """
    import torch  # noqa: PLC0415
    from diffusers import (  # noqa: PLC0415
        ControlNetModel,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from diffusers.utils import logging as diffusers_logging  # noqa: PLC0415
    from transformers import (  # noqa: PLC0415
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {"model": folder / "sdxl", "checkpoint": folder / "sdxl.safetensors"}
    tokenizer = build_tokenizer(folder / "tokenizer-src")
    # SDXL's second tokenizer pads with "!" (id 0 in CLIP's vocabulary) where the first pads with the end token
    tokenizer_2 = CLIPTokenizer.from_pretrained(str(folder / "tokenizer-src"), model_max_length=77, pad_token="!")
    width, width_2 = TINY_XL_TEXT_WIDTHS
    time_dim = 8

    torch.manual_seed(10)
    unet = UNet2DConditionModel(
        sample_size=TINY_SIZE // 8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2),
        cross_attention_dim=width + width_2,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=6 * time_dim + width_2,
        norm_num_groups=4,
    )
    vae = tiny_vae(seed=11, scaling_factor=0.13025)  # SDXL's VAE scale
    text = dict(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        vocab_size=len(tokenizer),
        num_attention_heads=4,
        num_hidden_layers=3,
        max_position_embeddings=77,
        layer_norm_eps=1e-5,
    )
    torch.manual_seed(12)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(**text, hidden_size=width, intermediate_size=2 * width, projection_dim=width)
    )
    torch.manual_seed(13)
    text_encoder_2 = CLIPTextModelWithProjection(
        CLIPTextConfig(
            **text, hidden_size=width_2, intermediate_size=2 * width_2, projection_dim=width_2, hidden_act="gelu"
        )
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
    )
    pipe.save_pretrained(out["model"], safe_serialization=True)
    save_original_sdxl_checkpoint(pipe, out["checkpoint"])

    if controlnet:
        torch.manual_seed(14)
        net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8, 16, 16))
        _init_convs(net.controlnet_cond_embedding, seed=15, gain=2.0)
        _init_convs(net.controlnet_down_blocks, seed=16, gain=1.0)
        _init_convs(net.controlnet_mid_block, seed=17, gain=1.0)
        out["controlnet"] = folder / "controlnet-xl"
        net.save_pretrained(out["controlnet"], safe_serialization=True)

    out["lora"] = folder / "lora.safetensors"
    build_tiny_lora(unet, out["lora"], seed=18)
    return out


def build_tiny_lora(unet, path: Path, seed: int, rank: int = 2) -> Path:
    """A random LoRA (rank ``rank``) on the attention projections of ``unet``, saved as diffusers writes LoRAs.

    The file is made through peft, as a trainer makes it; ``unet`` is left without the adapter.
    """
    import torch  # noqa: PLC0415
    from diffusers import StableDiffusionXLPipeline  # noqa: PLC0415
    from diffusers.utils import convert_state_dict_to_diffusers  # noqa: PLC0415
    from peft import LoraConfig  # noqa: PLC0415
    from peft.utils import get_peft_model_state_dict  # noqa: PLC0415

    torch.manual_seed(seed)
    config = LoraConfig(
        r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False
    )
    unet.add_adapter(config, adapter_name="tiny")
    with torch.no_grad():  # big enough that a weight of 0.5 against 1.0 moves the pixels visibly
        for name, p in unet.named_parameters():
            if "lora_B" in name:
                p.mul_(4.0)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name="tiny"))
    unet.delete_adapters("tiny")
    path.parent.mkdir(parents=True, exist_ok=True)
    StableDiffusionXLPipeline.save_lora_weights(
        str(path.parent), unet_lora_layers=layers, weight_name=path.name, safe_serialization=True
    )
    return path


# The original checkpoint layout (Stability AI's "generative-models" names), written from the diffusers modules:
# the reverse of diffusers' single-file conversion, so that its loader has something real to read.

_RESNET_TO_ORIGINAL = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)


def _unet_to_original(state: dict, config: dict) -> dict:
    per = config["layers_per_block"] + 1
    renames = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0",
        "add_embedding.linear_2": "label_emb.0.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    up_has_attention = ["CrossAttn" in t for t in config["up_block_types"]]
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        new = None
        head = next((h for h in renames if key.startswith(h + ".")), None)
        if head is not None:
            new = renames[head] + key[len(head) :]
        elif parts[0] == "down_blocks":
            b, kind, j = int(parts[1]), parts[2], int(parts[3])
            rest = ".".join(parts[4:])
            if kind == "resnets":
                new = f"input_blocks.{b * per + j + 1}.0.{_resnet_rest(rest)}"
            elif kind == "attentions":
                new = f"input_blocks.{b * per + j + 1}.1.{rest}"
            else:  # downsamplers.0.conv.*
                new = f"input_blocks.{(b + 1) * per}.0.op.{parts[-1]}"
        elif parts[0] == "up_blocks":
            b, kind, j = int(parts[1]), parts[2], int(parts[3])
            rest = ".".join(parts[4:])
            if kind == "resnets":
                new = f"output_blocks.{b * per + j}.0.{_resnet_rest(rest)}"
            elif kind == "attentions":
                new = f"output_blocks.{b * per + j}.1.{rest}"
            else:  # upsamplers.0.conv.*
                slot = 2 if up_has_attention[b] else 1
                new = f"output_blocks.{b * per + per - 1}.{slot}.conv.{parts[-1]}"
        elif parts[0] == "mid_block":
            kind, j, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            new = f"middle_block.{2 * j}.{_resnet_rest(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
        if new is None:
            raise KeyError(f"no original name for UNet key {key}")
        out["model.diffusion_model." + new] = value
    return out


def _resnet_rest(rest: str) -> str:
    for diffusers_name, original in _RESNET_TO_ORIGINAL:
        if rest.startswith(diffusers_name + "."):
            return original + rest[len(diffusers_name) :]
    return rest


def _vae_to_original(state: dict, config: dict) -> dict:
    levels = len(config["up_block_types"])
    attention = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    out = {}
    for key, value in state.items():
        new = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        for side in ("encoder", "decoder"):
            new = new.replace(f"{side}.mid_block.resnets.0.", f"{side}.mid.block_1.")
            new = new.replace(f"{side}.mid_block.resnets.1.", f"{side}.mid.block_2.")
            prefix = f"{side}.mid_block.attentions.0."
            if new.startswith(prefix):
                name, leaf = new[len(prefix) :].rsplit(".", 1)
                new = f"{side}.mid.attn_1.{attention[name]}.{leaf}"
                if leaf == "weight" and name != "group_norm":
                    value = value[:, :, None, None]  # a 1x1 convolution in the original
        parts = new.split(".")
        if parts[:2] == ["encoder", "down_blocks"]:
            i, kind = parts[2], parts[3]
            new = (
                f"encoder.down.{i}.block.{'.'.join(parts[5:])}".replace("block.", f"block.{parts[4]}.", 1)
                if kind == "resnets"
                else f"encoder.down.{i}.downsample.{'.'.join(parts[5:])}"
            )
        elif parts[:2] == ["decoder", "up_blocks"]:
            i, kind = levels - 1 - int(parts[2]), parts[3]
            new = (
                f"decoder.up.{i}.block.{parts[4]}.{'.'.join(parts[5:])}"
                if kind == "resnets"
                else f"decoder.up.{i}.upsample.{'.'.join(parts[5:])}"
            )
        out["first_stage_model." + new] = value
    return out


def _clip_to_original(state: dict, prefix: str) -> dict:
    """CLIP-L in transformers' own names (as the original checkpoints keep it), under ``prefix``."""
    return {prefix + "text_model." + key.removeprefix("text_model."): value for key, value in state.items()}


def _open_clip_to_original(state: dict, prefix: str) -> dict:
    """The second text encoder in OpenCLIP's names: fused q/k/v, ``resblocks``, a transposed text projection."""
    import torch  # noqa: PLC0415

    state = {key.removeprefix("text_model."): value for key, value in state.items()}
    out = {
        prefix + "token_embedding.weight": state.pop("embeddings.token_embedding.weight"),
        prefix + "positional_embedding": state.pop("embeddings.position_embedding.weight"),
        prefix + "ln_final.weight": state.pop("final_layer_norm.weight"),
        prefix + "ln_final.bias": state.pop("final_layer_norm.bias"),
        prefix + "text_projection": state.pop("text_projection.weight").T.contiguous(),
    }
    state.pop("embeddings.position_ids", None)
    layers = sorted({int(k.split(".")[2]) for k in state if k.startswith("encoder.layers.")})
    for i in layers:
        src, dst = f"encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
        for leaf in ("weight", "bias"):
            out[dst + f"attn.in_proj_{leaf}"] = torch.cat(
                [state.pop(src + f"self_attn.{p}_proj.{leaf}") for p in "qkv"]
            )
            out[dst + f"attn.out_proj.{leaf}"] = state.pop(src + f"self_attn.out_proj.{leaf}")
            out[dst + f"ln_1.{leaf}"] = state.pop(src + f"layer_norm1.{leaf}")
            out[dst + f"ln_2.{leaf}"] = state.pop(src + f"layer_norm2.{leaf}")
            out[dst + f"mlp.c_fc.{leaf}"] = state.pop(src + f"mlp.fc1.{leaf}")
            out[dst + f"mlp.c_proj.{leaf}"] = state.pop(src + f"mlp.fc2.{leaf}")
    if state:
        raise KeyError(f"no original name for text encoder keys {sorted(state)[:3]}")
    return out


def save_original_sdxl_checkpoint(pipe, path: Path) -> Path:
    """Write an SDXL pipeline's weights as one ``.safetensors`` in the original key layout."""
    from safetensors.torch import save_file  # noqa: PLC0415

    state: dict = {}
    state.update(_unet_to_original(pipe.unet.state_dict(), dict(pipe.unet.config)))
    state.update(_vae_to_original(pipe.vae.state_dict(), dict(pipe.vae.config)))
    te = {k: v for k, v in pipe.text_encoder.state_dict().items() if not k.endswith("position_ids")}
    state.update(_clip_to_original(te, "conditioner.embedders.0.transformer."))
    state.update(_open_clip_to_original(pipe.text_encoder_2.state_dict(), "conditioner.embedders.1.model."))
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def save_original_sd_checkpoint(folder: Path, path: Path) -> Path:
    """Write the SD 1.x pipeline saved at ``folder`` as one ``.safetensors`` in the original (CompVis) layout."""
    from diffusers import StableDiffusionPipeline  # noqa: PLC0415
    from safetensors.torch import save_file  # noqa: PLC0415

    pipe = StableDiffusionPipeline.from_pretrained(str(folder), safety_checker=None, requires_safety_checker=False)
    state: dict = {}
    state.update(_unet_to_original(pipe.unet.state_dict(), dict(pipe.unet.config)))
    state.update(_vae_to_original(pipe.vae.state_dict(), dict(pipe.vae.config)))
    te = {k: v for k, v in pipe.text_encoder.state_dict().items() if not k.endswith("position_ids")}
    state.update(_clip_to_original(te, "cond_stage_model.transformer."))
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path
