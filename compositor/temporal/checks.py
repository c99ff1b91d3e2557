"""Errors a user can fix: frame streams of the wrong shape, of different sizes or of different counts, each
refused with one line that names the streams."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from compositor.errors import SpecError


def _check_frames(frames: tuple[np.ndarray, ...], names: tuple[str, ...]) -> None:
    first = frames[0]
    for frame, name in zip(frames, names):
        if frame.ndim != 3 or frame.shape[2] != 4:
            raise SpecError(f"{name}: frames must be premultiplied RGBA (H, W, 4), got shape {frame.shape}")
        if frame.shape[:2] != first.shape[:2]:
            raise SpecError(
                f"{names[0]} is {first.shape[1]}x{first.shape[0]} but {name} is "
                f"{frame.shape[1]}x{frame.shape[0]}: they must have the same size"
            )


def _check_size(frame: np.ndarray, first: np.ndarray, name: str, index: int) -> None:
    """A later frame of a stream must have the first frame's shape."""
    if frame.shape != first.shape:
        raise SpecError(
            f"{name}: frame {index + 1} has shape {frame.shape} but frame 1 has {first.shape}: "
            "every frame must have the same size"
        )


def _count_error(n_first: int, n_other: int, first_name: str, other_name: str) -> SpecError:
    return SpecError(
        f"{first_name} has {n_first} frames but {other_name} has {n_other}: "
        "they must have the same number of frames"
    )


def _count_mismatch(names: tuple[str, ...], n: int, first_ended: bool, second_ended: bool) -> SpecError:
    """Different frame counts, found when one stream ended after ``n`` frames (the rest is not read)."""
    first = str(n) if first_ended else f"more than {n}"
    second = str(n) if second_ended else f"more than {n}"
    return SpecError(
        f"{names[0]} has {first} frames but {names[1]} has {second}: they must have the same number of frames"
    )


def _zipped(
    streams: tuple[Iterable[np.ndarray], ...], names: tuple[str, ...]
) -> Iterator[tuple[np.ndarray, ...]]:
    """Zip frame streams lazily, refusing different sizes (at the first frame) or counts (when one ends)."""
    iterators = [iter(s) for s in streams]
    n = 0
    firsts: tuple[np.ndarray, ...] = ()
    while True:
        frames = tuple(next(it, None) for it in iterators)
        ended = [f is None for f in frames]
        if all(ended):
            return
        if any(ended):
            other = next(i for i, e in enumerate(ended) if e != ended[0])
            raise _count_mismatch((names[0], names[other]), n, ended[0], ended[other])
        if n == 0:
            _check_frames(frames, names)
            firsts = frames
        else:
            for frame, first, name in zip(frames, firsts, names):
                _check_size(frame, first, name, n)
        n += 1
        yield tuple(np.ascontiguousarray(f, dtype=np.float32) for f in frames)
