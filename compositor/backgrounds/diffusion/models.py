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
    """A model as the spec names it, the local folder that holds it, and what identifies its weights."""

    written: str
    folder: Path
    identity: dict[str, Any]


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
            from diffusers import DiffusionPipeline  # noqa: PLC0415

            return Path(DiffusionPipeline.download(repo_id))
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


def _check_model_folder(folder: Path, written: str, kind: str, where: str) -> None:
    if kind == "model":
        index = folder / "model_index.json"
        if not index.is_file():
            raise MissingInputError(
                f"{where}: {written!r} is not a diffusers model folder (no model_index.json); convert a single "
                "checkpoint with StableDiffusionPipeline.from_single_file(path).save_pretrained(folder)"
            )
        info = _read_json(index, where)
        unet = _read_json(folder / "unet" / "config.json", where)
        if "text_encoder_2" in info or unet.get("addition_embed_type") is not None:
            raise SpecError(
                f"{where}: {written!r} is a {info.get('_class_name', 'SDXL-type')} model; this backend runs "
                "Stable Diffusion 1.x/2.x models (StableDiffusionPipeline layout)"
            )
        if unet.get("in_channels", 4) != 4:
            raise SpecError(
                f"{where}: {written!r} has a {unet.get('in_channels')}-channel UNet (an inpainting or depth model); "
                "use a plain text-to-image Stable Diffusion 1.x/2.x model"
            )
    else:
        config = folder / "config.json"
        if not config.is_file() or "ControlNet" not in str(_read_json(config, where).get("_class_name", "")):
            raise MissingInputError(
                f"{where}: {written!r} is not a diffusers ControlNet folder (config.json with "
                '"_class_name": "ControlNetModel")'
            )


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
            _check_model_folder(folder, written, key, where)
            return ModelRef(written, folder, {"source": written, "fingerprint": model_fingerprint(folder)})
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
        _check_model_folder(folder, written, key, where)
        return ModelRef(written, folder, {"hub_id": written, "revision": folder.name})
    raise MissingInputError(
        f"{where}: no diffusers model at {written!r} (looked in {looked}); set {key_path} to a local folder in "
        f"diffusers layout ({marker}) or a Hugging Face id"
    )
