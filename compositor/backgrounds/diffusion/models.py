"""Models for the diffusion background: lazy imports of torch and diffusers, where a setting came from, and
model references (local folders and Hugging Face ids) with the fingerprints that identify their weights."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compositor.errors import (
    BackendMissingError,
    CorruptInputError,
    MissingInputError,
    SpecError,
)

if TYPE_CHECKING:
    from compositor.spec import Shot

INSTALL_HINT = "pip install 'compositor[diffusion]'"

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
    diffusers.utils.logging.set_verbosity_error()  # "no LoRA keys for the text encoder" and the like: not for artists
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
    if shot.style is not None and shot.style_path is not None and getattr(shot.style.diffusion, key, None) is not None:
        return f"{shot.production.rel(shot.style_path)}: diffusion.{key}"
    if getattr(shot.diffusion, key, None) is not None:
        return f"{shot.edit.display}: diffusion.{key}"
    return f"{shot.display}: background.{key}"


# ----------------------------------------------------------------------------------------------------------------
# Models: local folders and hub ids, and their identity


@dataclass(frozen=True)
class ModelRef:
    """A model as the spec names it, the local folder that holds it, and what identifies its weights.

    For a single-file checkpoint, ``file`` is the checkpoint and ``folder`` the diffusers folder of configs and
    tokenizers that describes it (the shipped one for its family, or the spec's ``config``).
    """

    written: str
    folder: Path
    identity: dict[str, Any]
    family: str = "sd"
    """``"sd"`` (Stable Diffusion 1.x/2.x: one CLIP text encoder) or ``"sdxl"`` (two, and size conditioning)."""
    file: Path | None = None


@dataclass(frozen=True)
class LoraRef:
    """A LoRA file laid over the model, with its weight and what identifies its contents."""

    written: str
    path: Path
    weight: float
    digest: str

    @property
    def identity(self) -> dict[str, Any]:
        return {"file": self.written, "sha256_sampled": self.digest, "weight": self.weight}


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
            import logging  # noqa: PLC0415

            from diffusers import DiffusionPipeline  # noqa: PLC0415

            # Without a network diffusers logs "Couldn't connect to the Hub: ...\nWill try to load from local
            # cache." on stderr, two lines above ours; the one line below says it and what to do.
            hub_log = logging.getLogger("diffusers.pipelines.pipeline_utils")
            level = hub_log.level
            hub_log.setLevel(logging.ERROR)
            try:
                return Path(DiffusionPipeline.download(repo_id))
            finally:
                hub_log.setLevel(level)
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


_PIPELINE_FAMILIES = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionImg2ImgPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
}


def _check_model_folder(folder: Path, written: str, kind: str, where: str) -> str:
    """Refuse a folder that is not a model of the ``kind`` asked for; for a model, return its family."""
    if kind == "model":
        index = folder / "model_index.json"
        if not index.is_file():
            raise MissingInputError(
                f"{where}: {written!r} is not a diffusers model folder (no model_index.json); give the folder "
                "that holds model_index.json, or a single .safetensors/.ckpt checkpoint file"
            )
        info = _read_json(index, where)
        class_name = str(info.get("_class_name", ""))
        family = _PIPELINE_FAMILIES.get(class_name)
        if family == "sdxl" and "text_encoder" not in info:
            raise SpecError(
                f"{where}: {written!r} is an SDXL refiner (one text encoder, made to finish a base model's image); "
                "use an SDXL base model or fine-tune"
            )
        if family is None:
            if class_name:
                raise SpecError(
                    f"{where}: {written!r} is a {class_name} model; this backend runs Stable Diffusion 1.x/2.x "
                    "and SDXL-family models (StableDiffusionPipeline or StableDiffusionXLPipeline layout)"
                )
            family = "sdxl" if "text_encoder_2" in info else "sd"
        unet = _read_json(folder / "unet" / "config.json", where)
        if (unet.get("addition_embed_type") == "text_time") != (family == "sdxl"):
            raise CorruptInputError(
                f"{where}: {written!r}: model_index.json says {class_name or family} but its UNet is "
                f"{'an SDXL' if family == 'sd' else 'not an SDXL'} UNet; the folder mixes two models"
            )
        if unet.get("in_channels", 4) != 4:
            raise SpecError(
                f"{where}: {written!r} has a {unet.get('in_channels')}-channel UNet (an inpainting or depth model); "
                "use a plain text-to-image Stable Diffusion 1.x/2.x or SDXL model"
            )
        return family
    else:
        config = folder / "config.json"
        if not config.is_file() or "ControlNet" not in str(_read_json(config, where).get("_class_name", "")):
            raise MissingInputError(
                f"{where}: {written!r} is not a diffusers ControlNet folder (config.json with "
                '"_class_name": "ControlNetModel")'
            )
        return "controlnet"


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
            family = _check_model_folder(folder, written, key, where)
            identity = {"source": written, "fingerprint": model_fingerprint(folder)}
            return ModelRef(written, folder, identity, family if key == "model" else "sd")
        if candidate.is_file():
            return _single_file(shot, key, written, candidate.resolve(), where)
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
        family = _check_model_folder(folder, written, key, where)
        return ModelRef(
            written, folder, {"hub_id": written, "revision": folder.name}, family if key == "model" else "sd"
        )
    raise MissingInputError(
        f"{where}: no diffusers model at {written!r} (looked in {looked}); set {key_path} to a local folder in "
        f"diffusers layout ({marker}) or a Hugging Face id"
    )


# ----------------------------------------------------------------------------------------------------------------
# Single-file checkpoints and LoRAs


def _local_path(shot: Shot, written: str) -> list[Path]:
    path = Path(written).expanduser()
    return [path] if path.is_absolute() else [shot.production.root / path, shot.folder / path]


def _single_file(shot: Shot, key: str, written: str, path: Path, where: str) -> ModelRef:
    """A model given as one checkpoint file: its family from its keys, and the configs that describe it."""
    from compositor.backgrounds.diffusion import checkpoints  # noqa: PLC0415 (only for single files)

    if key != "model":
        raise SpecError(
            f"{where}: {written!r} is a file; a ControlNet is loaded from its diffusers folder (config.json and "
            "diffusion_pytorch_model.safetensors)"
        )
    if path.suffix.lower() not in {".safetensors", ".ckpt", ".pt", ".pth", ".bin"}:
        raise SpecError(
            f"{where}: {written!r} is a {path.suffix or 'suffix-less'} file; a model is a diffusers folder or a "
            ".safetensors/.ckpt checkpoint"
        )
    shapes = checkpoints.read_shapes(path, where)
    family, note = checkpoints.checkpoint_family(shapes, where, repr(written))
    if shot.diffusion.config:
        config_where = _where(shot, "config")
        folder = next((c.resolve() for c in _local_path(shot, shot.diffusion.config) if c.is_dir()), None)
        if folder is None:
            raise MissingInputError(
                f"{config_where}: no folder {shot.diffusion.config!r} (a diffusers folder with model_index.json "
                f"describing {written!r})"
            )
        config_family = _check_model_folder(folder, shot.diffusion.config, "model", config_where)
        if config_family != family:
            raise SpecError(
                f"{config_where}: {shot.diffusion.config!r} describes a {checkpoints.FAMILIES[config_family]} "
                f"model but {written!r} is {checkpoints.FAMILIES[family]}; name a config folder of its family"
            )
    elif note == "sd2":
        raise SpecError(
            f"{where}: {written!r} is a Stable Diffusion 2.x checkpoint; set config to a diffusers SD 2.x folder "
            "(its configs: SD 2.x comes in several kinds and only SD 1.5's and SDXL's ship with compositor)"
        )
    else:
        folder = checkpoints.shipped_config(family)
    _check_fits_config(shapes, folder, written, where, bool(shot.diffusion.config))
    identity = {
        "source": written,
        "file": _sampled_digest(path, path.stat().st_size),
        "config": model_fingerprint(folder),
    }
    return ModelRef(written, folder, identity, family, path)


def _resolve_loras(shot: Shot, text_width: int | None) -> tuple[LoraRef, ...]:
    """The spec's LoRA files, found (production root, then the cut's folder), checked and fingerprinted."""
    from compositor.backgrounds.diffusion import checkpoints  # noqa: PLC0415 (only when LoRAs are used)

    where = _where(shot, "lora")
    refs = []
    for i, lora in enumerate(shot.diffusion.lora or []):
        at = f"{where}[{i}].path"
        path = next((c.resolve() for c in _local_path(shot, lora.path) if c.is_file()), None)
        if path is None:
            looked = shot.production.rel(_local_path(shot, lora.path)[0])
            raise MissingInputError(f"{at}: no LoRA file {lora.path!r} (looked in {looked})")
        width = checkpoints.lora_text_width(checkpoints.read_shapes(path, at), at, repr(lora.path))
        if width is not None and text_width is not None and width != text_width:
            raise SpecError(
                f"{at}: {lora.path!r} was trained for a model with text width {width}, but the model's is "
                f"{text_width}; use a LoRA made for this base (SD 1.x: 768, SDXL: 2048)"
            )
        refs.append(LoraRef(lora.path, path, lora.weight, _sampled_digest(path, path.stat().st_size)))
    return tuple(refs)


def _check_fits_config(shapes: dict[str, Any], folder: Path, written: str, where: str, named: bool) -> None:
    """Refuse a checkpoint whose UNet's widths are not the config's (a fine-tune of another architecture)."""
    unet = _read_json(folder / "unet" / "config.json", where)
    found: list[str] = []
    needed: list[str] = []
    conv_in = shapes.get("model.diffusion_model.input_blocks.0.0.weight")
    channels = (unet.get("block_out_channels") or [None])[0]
    if conv_in and channels is not None and conv_in[0] != channels:
        found.append(f"first block {conv_in[0]} channels")
        needed.append(f"{channels}")
    text = next(
        (shape for key, shape in shapes.items() if key.startswith("model.diffusion_model.") and key.endswith("attn2.to_k.weight")),
        None,
    )
    if text and unet.get("cross_attention_dim") is not None and text[-1] != unet["cross_attention_dim"]:
        found.append(f"text width {text[-1]}")
        needed.append(f"text width {unet['cross_attention_dim']}")
    if found:
        configs = f"the config folder {folder}" if named else "the shipped configs of its family"
        raise SpecError(
            f"{where}: {written!r} does not fit {configs} ({', '.join(found)}; they say {', '.join(needed)}); "
            "set config to a diffusers folder of this model's architecture"
        )


def weight_files(shot: Shot) -> list[Path]:
    """The single files the cut's diffusion background loads (a checkpoint given as ``model``, its LoRAs) that
    exist, for make's dependencies: replacing one under the same name re-runs the background step, whose key (the
    files' content) then decides whether anything is generated. Folders and hub ids are left out."""
    settings = shot.diffusion
    written = ([settings.model] if settings.model else []) + [lora.path for lora in settings.lora or []]
    found = []
    for name in written:
        path = next((c for c in _local_path(shot, name) if c.is_file()), None)
        if path is not None:
            found.append(path)
    return found
