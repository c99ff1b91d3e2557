"""Single-file checkpoints and LoRA files, read without torch: what a file holds (its tensor names and shapes),
which model family it is, and the diffusers configs that describe it (shipped with the project, never fetched).

Most community models (SDXL anime fine-tunes above all) come as one ``.safetensors`` (or older ``.ckpt``) file in
the original Stability AI key layout. diffusers' ``from_single_file`` converts such a file, but needs a diffusers
folder of configs and tokenizers for it; without one it asks the Hugging Face hub. The configs for the two
families this backend runs live in ``configs/`` beside this module (``sd15``, ``sdxl``: JSON only, with CLIP's
BPE merges compressed once for both), and are written out to a cache folder the first time they are needed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import struct
import tempfile
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compositor.errors import CorruptInputError, SpecError

CONFIGS = Path(__file__).resolve().parent / "configs"
"""The shipped diffusers config folders (``sd15``, ``sdxl``) and ``clip_merges.txt.gz``."""

FAMILIES = {"sd": "Stable Diffusion 1.x/2.x", "sdxl": "SDXL"}
"""Model families this backend runs: the name used in ``describe`` and messages → how people call it."""

SHIPPED_CONFIG = {"sd": "sd15", "sdxl": "sdxl"}
"""The config folder under ``CONFIGS`` used for a checkpoint of each family when the spec names none."""

_MAX_HEADER = 100 * 1024 * 1024

Shapes = dict[str, tuple[int, ...] | None]
"""Tensor name → shape (None where the file does not say without loading it)."""


# ----------------------------------------------------------------------------------------------------------------
# Reading a file's tensor names and shapes


class _Stub:
    """Anything a ``.ckpt``'s pickle names that is not a tensor or a dict: kept inert, never executed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


@dataclass(frozen=True)
class _Tensor:
    shape: tuple[int, ...]


def _rebuild_tensor(*args: Any) -> _Tensor:
    # torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)
    return _Tensor(tuple(int(n) for n in args[2]) if len(args) > 2 else ())


class _KeysUnpickler(pickle.Unpickler):
    """Reads a torch zip checkpoint's ``data.pkl`` for its structure only: no class is imported, no code runs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in {("collections", "OrderedDict"), ("builtins", "dict")}:
            return OrderedDict
        if module.startswith("torch") and name.startswith("_rebuild_tensor"):
            return _rebuild_tensor
        if module.startswith("torch") and name == "_rebuild_parameter":
            return lambda data, *rest: data
        return _Stub

    def persistent_load(self, pid: Any) -> None:
        return None


def read_shapes(path: Path, where: str) -> Shapes:
    """The tensors a ``.safetensors`` file or a torch zip checkpoint (``.ckpt``, ``.pt``, ``.bin``) holds.

    Only the header (or the pickled index) is read, so a 7 GB file costs milliseconds and no torch import. A file
    that is cut short or is not one of these formats raises ``CorruptInputError`` naming ``where``.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8 and not zipfile.is_zipfile(path):
            (length,) = struct.unpack("<Q", head)
            if 2 <= length <= _MAX_HEADER and length > size - 8 and f.read(1) == b"{":
                raise CorruptInputError(
                    f"{where}: {path.name} is cut short ({size} bytes, less than its {length}-byte header); "
                    "copy it again"
                )
            f.seek(8)
            if 2 <= length <= min(_MAX_HEADER, size - 8):
                try:
                    header = json.loads(f.read(length))
                except (ValueError, UnicodeDecodeError):
                    header = None
                if isinstance(header, dict):
                    header.pop("__metadata__", None)
                    end = max((int(t["data_offsets"][1]) for t in header.values()), default=0)
                    if 8 + length + end > size:
                        raise CorruptInputError(
                            f"{where}: {path.name} is cut short ({size} bytes, its header lists "
                            f"{8 + length + end}); copy it again"
                        )
                    return {name: tuple(t["shape"]) for name, t in header.items()}
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith("data.pkl")]
                if not names:
                    raise CorruptInputError(f"{where}: {path.name} is a zip archive but no PyTorch checkpoint")
                obj = _KeysUnpickler(archive.open(names[0])).load()
        except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
            raise CorruptInputError(f"{where}: {path.name} is a damaged PyTorch checkpoint; copy it again") from None
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict):
            raise CorruptInputError(f"{where}: {path.name} holds no table of weights")
        return {str(k): (v.shape if isinstance(v, _Tensor) else None) for k, v in obj.items()}
    raise CorruptInputError(
        f"{where}: {path.name} is neither a .safetensors file nor a PyTorch checkpoint (damaged, or another format)"
    )


# ----------------------------------------------------------------------------------------------------------------
# What a checkpoint is


def _has(shapes: Shapes, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in shapes)


def checkpoint_family(shapes: Shapes, where: str, name: str) -> tuple[str, str | None]:
    """The family (``"sd"`` or ``"sdxl"``) of a single-file model and, for SD 2.x, ``"sd2"`` as a note.

    Anything else (a LoRA, a VAE, a ControlNet, a refiner, an inpainting model, a diffusers component file, another
    architecture) raises ``SpecError`` saying what the file is and what ``model`` needs.
    """
    need = "model needs a whole SD 1.x or SDXL checkpoint (UNet, VAE and text encoders in one file)"
    if any(_is_lora_key(k) for k in shapes):
        raise SpecError(
            f"{where}: {name} is a LoRA, not a model; list it under lora = [{{ path = ..., weight = ... }}] "
            "and set model to the base it was trained on"
        )
    if _has(shapes, "control_model.") or _has(shapes, "controlnet_cond_embedding."):
        raise SpecError(f"{where}: {name} is a ControlNet; set it as controlnet (a diffusers folder), not model")
    if _has(shapes, "joint_blocks.") or _has(shapes, "model.diffusion_model.joint_blocks.") or _has(
        shapes, "double_blocks."
    ) or _has(shapes, "model.diffusion_model.double_blocks."):
        raise SpecError(f"{where}: {name} is an SD3 or Flux model; {need}")
    if not _has(shapes, "model.diffusion_model."):
        if _has(shapes, "encoder.down.") or _has(shapes, "decoder.up."):
            raise SpecError(f"{where}: {name} is a VAE on its own; {need}")
        if _has(shapes, "down_blocks.") or _has(shapes, "text_model."):
            raise SpecError(
                f"{where}: {name} is one component of a diffusers folder; set model to the folder (with "
                "model_index.json)"
            )
        raise SpecError(f"{where}: {name} holds no Stable Diffusion UNet (no model.diffusion_model.* weights); {need}")
    if _has(shapes, "conditioner.embedders.1.model."):
        family, note = "sdxl", None
    elif _has(shapes, "conditioner.embedders.0.model."):
        raise SpecError(
            f"{where}: {name} is an SDXL refiner (one text encoder, made to finish a base model's image); {need}"
        )
    elif _has(shapes, "cond_stage_model.transformer."):
        family, note = "sd", None
    elif _has(shapes, "cond_stage_model.model."):
        family, note = "sd", "sd2"
    else:
        raise SpecError(f"{where}: {name} has a UNet but no text encoder (cond_stage_model or conditioner); {need}")
    if not _has(shapes, "first_stage_model."):
        raise SpecError(f"{where}: {name} has no VAE (first_stage_model.*); {need}")
    conv_in = shapes.get("model.diffusion_model.input_blocks.0.0.weight")
    if conv_in is not None and len(conv_in) == 4 and conv_in[1] != 4:
        raise SpecError(
            f"{where}: {name} is an inpainting (or depth) model with a {conv_in[1]}-channel UNet; "
            "use a plain text-to-image checkpoint"
        )
    return family, note


_LORA_MARKS = (".lora_down.", ".lora_up.", ".lora_A.", ".lora_B.", ".lora.down.", ".lora.up.")


def _is_lora_key(key: str) -> bool:
    """A LoRA tensor's name in any of the usual layouts: kohya (``lora_unet_..., .lora_down.``), peft
    (``.lora_A.``) and diffusers' older one (``.lora.down.``)."""
    return key.startswith(("lora_unet_", "lora_te")) or any(mark in key for mark in _LORA_MARKS)


def lora_text_width(shapes: Shapes, where: str, name: str) -> int | None:
    """The text width a LoRA's cross-attention was trained for (768 for SD 1.x, 2048 for SDXL), if it says.

    A file with no LoRA weights at all (a model, a VAE) raises ``SpecError``.
    """
    lora_keys = [k for k in shapes if _is_lora_key(k)]
    if not lora_keys:
        raise SpecError(f"{where}: {name} holds no LoRA weights (no lora_A/lora_down tensors); is it a model?")
    for k in lora_keys:
        shape = shapes[k]
        if "attn2" in k and "to_k" in k and ("lora_down" in k or "lora_A" in k or "lora.down" in k) and shape:
            # the down (A) matrix is (rank, in): its input is the text
            return int(shape[-1])
    return None


# ----------------------------------------------------------------------------------------------------------------
# The shipped configs, written out as a diffusers folder


def _bytes_to_unicode() -> list[str]:
    """CLIP's (GPT-2's) printable stand-in for each byte, in the order its vocabulary lists them."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    rest = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(len(rest))]


def clip_vocabulary() -> tuple[dict[str, int], str]:
    """CLIP's tokenizer files (``vocab.json`` contents, ``merges.txt`` text) built from the shipped merges.

    The vocabulary is what OpenAI's CLIP builds: each byte, each byte ending a word, each merge, then the two
    special tokens (49408 in all), so token ids match the text encoders trained with it.
    """
    merges = gzip.decompress((CONFIGS / "clip_merges.txt.gz").read_bytes()).decode("utf-8").splitlines()
    symbols = _bytes_to_unicode()
    vocab_list = symbols + [s + "</w>" for s in symbols] + ["".join(m.split(" ")) for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    return {s: i for i, s in enumerate(vocab_list)}, "#version: 0.2\n" + "\n".join(merges) + "\n"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compositor" / "diffusion-configs"


def shipped_config(family: str) -> Path:
    """The diffusers config folder for ``family``, written out (once) from the shipped configs.

    Its name carries a digest of what was shipped, so a newer project version never reuses an older folder.
    """
    name = SHIPPED_CONFIG[family]
    source = CONFIGS / name
    h = hashlib.sha256()
    for p in sorted(source.rglob("*.json")):
        h.update(p.relative_to(source).as_posix().encode() + b"\0" + p.read_bytes())
    h.update((CONFIGS / "clip_merges.txt.gz").read_bytes())
    for root in (_cache_root(), Path(tempfile.gettempdir()) / "compositor-diffusion-configs"):
        target = root / f"{name}-{h.hexdigest()[:16]}"
        if (target / "model_index.json").is_file():
            return target
        try:
            return _write_config(source, target)
        except OSError:
            continue
    raise CorruptInputError(f"cannot write the {FAMILIES[family]} configs to {_cache_root()} or the temp folder")


def _write_config(source: Path, target: Path) -> Path:
    """Copy the JSON configs and write CLIP's tokenizer files beside each tokenizer config; atomic by rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    vocab, merges = clip_vocabulary()
    vocab_text = json.dumps(vocab, ensure_ascii=False)
    for p in source.rglob("*.json"):
        out = staging / p.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(p.read_bytes())
        if p.name == "tokenizer_config.json":
            (out.parent / "vocab.json").write_text(vocab_text, encoding="utf-8")
            (out.parent / "merges.txt").write_text(merges, encoding="utf-8")
    try:
        staging.rename(target)
    except OSError:  # another process wrote it first: theirs is the same
        import shutil  # noqa: PLC0415 (rarely needed)

        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "model_index.json").is_file():
            raise
    return target
