"""Background variants: the cut's first canvas rendered with several seeds, cached as any canvas is, and a
contact sheet of them with each seed written under its picture (``render/<cut>/bg/variants.png``).

A variant is the very canvas the cut makes with that seed (its passes included), cached by the same key: writing
the chosen seed into the spec then renders nothing new.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from compositor.backgrounds import backend
from compositor.core import Progress
from compositor.core.digest import content_key
from compositor.core.io import ensure_folder, read_image, write_bytes_atomic, write_image
from compositor.core.sheet import contact_sheet, over_dark, thumbnail
from compositor.errors import SpecError
from compositor.layout import cache_file
from compositor.spec import Shot
from compositor.spec.models import MAX_SEED

MAX_VARIANTS = 64
"""More seeds than a contact sheet shows legibly (and than a director compares)."""
VARIANT_PANEL = 512
"""The widest a variant is drawn on the sheet: six 1920-wide variants make a sheet one screen can show."""
VARIANT_COLUMNS = 3


def with_seed(shot: Shot, seed: int) -> Shot:
    """The cut as it would be with ``background.seed = seed``."""
    background = shot.spec.background.model_copy(update={"seed": seed})
    return dataclasses.replace(shot, spec=shot.spec.model_copy(update={"background": background}))


def variant_seeds(shot: Shot, count: int) -> list[int]:
    """The seeds of ``count`` variants: the cut's seed and the ones after it."""
    if not 1 <= count <= MAX_VARIANTS:
        raise SpecError(f"{shot.display}: --variants: {count} variants; ask for 1 to {MAX_VARIANTS}")
    first = shot.spec.background.seed
    if first + count - 1 > MAX_SEED:
        first = MAX_SEED - count + 1
    return list(range(first, first + count))


def variant_canvas(shot: Shot, progress: Progress | None = None) -> Path:
    """The cut's first canvas, from the cache or painted and cached (with its provenance); returns the file."""
    module = backend(shot.spec.background.source)
    description = module.describe(shot, 0)
    path = cache_file(shot.production.root, content_key(description))
    if not path.is_file():
        canvas = module.paint(shot, 0, progress)
        write_image(path, canvas)
        provenance = {"cut": shot.name, "index": 0, **description}
        write_bytes_atomic(path.with_suffix(".json"), json.dumps(provenance, indent=2, default=str).encode())
    return path


def render_variants(shot: Shot, count: int, progress: Progress | None = None) -> tuple[Path, dict[int, Path]]:
    """Render ``count`` variants of the cut's background (first canvas) and their contact sheet.

    Returns the sheet's path and the cached canvas of each seed.
    """
    if shot.spec.background.source != "diffusion":
        raise SpecError(
            f"{shot.display}: background.source: variants are seeds of a generated background "
            '(source = "diffusion")'
        )
    seeds = variant_seeds(shot, count)
    files: dict[int, Path] = {}
    for done, seed in enumerate(seeds, 1):
        files[seed] = variant_canvas(with_seed(shot, seed), progress)
        if progress:
            progress(f"{shot.name}: variants", done, len(seeds))
    images: list[np.ndarray] = [read_image(files[s]) for s in seeds]
    chosen = shot.spec.background.seed
    labels = [f"seed {s}" + (" *" if s == chosen else "") for s in seeds]
    ensure_folder(shot.paths.bg_folder)
    width = min(images[0].shape[1], VARIANT_PANEL)
    panels = [thumbnail(over_dark(image), width) for image in images]
    write_image(shot.paths.bg_variants, contact_sheet(panels, labels, columns=VARIANT_COLUMNS))
    return shot.paths.bg_variants, files
