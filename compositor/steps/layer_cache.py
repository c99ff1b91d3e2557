"""What a cut's frames share, composited once (issue 14): held drawings and groups of layers that stay put
relative to each other are kept (`core.reuse`) and laid on every frame that shows them; a frame whose key is
its neighbour's is that frame again.

Layers are kept for ``CutRenderer.fused_rgb`` (copies and whole-pixel blends only), keyed by what decides
their pixels (the drawings, their modes, opacities and places relative to each other); whole frames for
``CutRenderer.make_frame`` (any path but deep frames), keyed by the frame's key. Never by frame number, so
nothing stale can be laid. Both caches are bounded (bytes and entries), so memory does not grow with the
length of the cut.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, NamedTuple

import numpy as np

from compositor.core import kernels
from compositor.core.kernels import blend_region
from compositor.core.reuse import HAVE_REUSE, Group, Member, Runs, build_group, find_runs


class Unit(NamedTuple):
    """A layer as shown on a frame: its library (by identity: it lives as long as the renderer), drawing,
    blend mode, opacity and the whole-pixel translation of its map."""

    library: int
    drawing: int
    mode: str
    opacity: float
    x: int
    y: int


class Placed(NamedTuple):
    """A layer as `fused_rgb` lays it: its unit and its covered piece with the piece's place on the frame."""

    unit: Unit
    pixels: np.ndarray
    x: int
    y: int


class BoundedCache:
    """Thread-safe ``key → value`` made at most once while it is kept (a second thread asking for a key being
    made waits for it), the oldest dropped beyond ``entries`` or ``nbytes`` bytes (``size(value)``)."""

    def __init__(self, entries: int, nbytes: int, size: Callable[[Any], int]):
        self.entries, self.nbytes, self.size = entries, nbytes, size
        self._items: OrderedDict[Hashable, Future] = OrderedDict()
        self._lock = threading.Lock()
        self.made = self.reused = 0

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            future = self._items.get(key)
            if future is not None:
                self._items.move_to_end(key)
                self.reused += 1
                mine = False
            else:
                future = self._items[key] = Future()
                self.made += 1
                mine = True
        if not mine:
            return future.result()
        try:
            value = make()
        except BaseException as e:
            with self._lock:
                self._items.pop(key, None)
            future.set_exception(e)
            raise
        future.set_result(value)
        with self._lock:
            self._trim(keep=key)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def _trim(self, keep: Hashable) -> None:
        total = sum(self.size(f.result()) for f in self._items.values() if f.done() and not f.exception())
        for key in list(self._items):
            if len(self._items) <= self.entries and total <= self.nbytes:
                break
            future = self._items[key]
            if key == keep or not future.done():
                continue
            del self._items[key]
            if not future.exception():
                total -= self.size(future.result())


def _group_bytes(group: Group | Runs) -> int:
    return group.nbytes


class LayerReuse:
    """The reuse plan and caches of one ``CutRenderer`` (shared by its threads)."""

    HOLD = 2
    """A drawing alone has its `Runs` found once it is shown on this many consecutive frames (wherever it
    is): finding them costs about half a lay of it and saves about a third of each lay (measured on the
    benchmark cut), so a drawing on twos gains a little, a held one (a BOOK) most."""
    LONG_HOLD = 8
    """A drawing shown on this many consecutive frames (a BOOK, a held pose) is kept as a `Group` of its own
    instead: three times the cost of finding its runs, laid in about two thirds of the time."""
    GROUP_HOLD = 4
    """Consecutive layers are kept as one `Group` once they are shown together, in the same places relative to
    each other, on this many consecutive frames: building one costs about two lays of its layers, laying it
    half to two thirds of them (less where they overlap)."""

    def __init__(self, renderer: Any, group_bytes: int = 192 << 20, groups: int = 32, frames: int = 3):
        self.renderer = renderer
        self.groups = BoundedCache(groups, group_bytes, _group_bytes)
        self.runs = BoundedCache(4 * groups, 64 << 20, _group_bytes)
        self.frames = BoundedCache(frames, frames * renderer.shot.size[0] * renderer.shot.size[1] * 3, np.size)
        self._units: OrderedDict[int, tuple[Unit, ...] | None] = OrderedDict()
        self._keys: OrderedDict[int, str] = OrderedDict()
        self._lock = threading.Lock()
        self.enabled = HAVE_REUSE
        """False: every layer laid one by one, every frame made (the plain way; numba is needed to keep)."""

    @property
    def on(self) -> bool:
        """Whether anything is kept: ``enabled`` and the kernels compiled (their numpy stand-ins are laid one
        by one, so that a path held equal to them stays so)."""
        return self.enabled and kernels.HAVE_NUMBA

    # -- what each frame shows --------------------------------------------------------------------------------

    def units(self, index: int) -> tuple[Unit, ...] | None:
        """The layers frame ``index`` shows (bottom first), or None where one is not at a whole pixel."""
        if not 0 <= index < self.renderer.shot.frames:
            return None
        with self._lock:
            if index in self._units:
                return self._units[index]
        from compositor.steps.composite import whole_pixels  # noqa: PLC0415 (composite imports this module)

        shown: list[Unit] | None = []
        for layer, library, drawing, m in self.renderer._layer_maps(index):
            at = whole_pixels(m)
            if at is None:
                shown = None
                break
            shown.append(Unit(id(library), drawing, layer.blend, float(layer.opacity), at[0], at[1]))  # type: ignore[union-attr]
        result = tuple(shown) if shown is not None else None
        with self._lock:
            self._units[index] = result
            while len(self._units) > 64:
                self._units.popitem(last=False)
        return result

    def key(self, index: int) -> str | None:
        """Frame ``index``'s key (``CutRenderer.frame_key``: everything that decides its pixels); None outside
        the cut."""
        if not 0 <= index < self.renderer.shot.frames:
            return None
        with self._lock:
            if index in self._keys:
                return self._keys[index]
        key = self.renderer.frame_key(index)
        self._remember(index, key)
        return key

    def _remember(self, index: int, key: str) -> None:
        with self._lock:
            self._keys[index] = key
            while len(self._keys) > 64:
                self._keys.popitem(last=False)

    # -- a whole frame ----------------------------------------------------------------------------------------

    def frame(self, index: int, key: str | None, make: Callable[[], np.ndarray]) -> np.ndarray:
        """Frame ``index`` (``key``: its key, if known) by ``make`` (``uint8`` RGB), or a copy of the same frame
        made for a neighbour with the same key: the key decides the pixels, so they are the same bytes (an
        effect, a tone or camera work included)."""
        if not self.enabled:
            return make()
        if key is not None:
            self._remember(index, key)
        key = self.key(index)
        if key is None or key not in (self.key(index - 1), self.key(index + 1)):
            return make()
        return self.frames.get(key, make).copy()

    # -- layers -----------------------------------------------------------------------------------------------

    def _held(self, index: int, unit: Unit, most: int) -> int:
        """Consecutive frames around ``index`` (at most ``most``) that show ``unit``'s drawing, anywhere."""
        n = 1
        for step in (-1, 1):
            k = index + step
            while n < most:
                units = self.units(k)
                if units is None or not any(u.library == unit.library and u.drawing == unit.drawing for u in units):
                    break
                n += 1
                k += step
        return n

    @staticmethod
    def _relative(units: tuple[Unit, ...] | list[Unit]) -> tuple:
        x0, y0 = units[0].x, units[0].y
        return tuple((u.library, u.drawing, u.mode, u.opacity, u.x - x0, u.y - y0) for u in units)

    def _together(self, index: int, run: list[Unit]) -> int:
        """Consecutive frames around ``index`` (at most ``GROUP_HOLD``) that show ``run`` as consecutive layers
        in the same places relative to each other."""
        want = self._relative(run)
        n = 1
        for step in (-1, 1):
            k = index + step
            while n < self.GROUP_HOLD:
                units = self.units(k)
                if units is None:
                    break
                starts = [j for j, u in enumerate(units) if u.library == run[0].library]
                if not any(self._relative(units[j : j + len(run)]) == want for j in starts if j + len(run) <= len(units)):
                    break
                n += 1
                k += step
        return n

    def plan(self, index: int, placed: list[Placed]) -> list[Callable[[np.ndarray, int], None]]:
        """How to lay frame ``index``'s layers: each item lays one layer, or a kept group, on rows of the frame
        (``item(rows, y0)``, ``rows`` the frame's rows from ``y0``), in order; the same bits as laying every
        layer with ``kernels.blend_region``."""
        items: list[Callable[[np.ndarray, int], None]] = []
        j = 0
        while j < len(placed):
            end = j + 1
            if self.on:
                while end < len(placed) and self._together(index, [p.unit for p in placed[j : end + 1]]) >= self.GROUP_HOLD:
                    end += 1
            members = placed[j:end]
            p = members[0]
            held = self._held(index, p.unit, self.LONG_HOLD) if self.on and end - j == 1 else 0
            if end - j > 1 or held >= self.LONG_HOLD:
                items.append(self._kept(members))
            elif p.pixels.dtype == np.uint8 and p.unit.mode != "add" and held >= self.HOLD:
                runs = self.runs.get((p.unit.library, p.unit.drawing, p.unit.opacity),
                                     lambda p=p: find_runs(np.ascontiguousarray(p.pixels), p.unit.opacity))
                items.append(lambda rows, y0, p=p, runs=runs: runs.lay(rows, p.x, p.y - y0, p.pixels, p.unit.mode))
            else:
                items.append(lambda rows, y0, p=p: blend_region(rows, p.x, p.y - y0, p.pixels, p.unit.mode, p.unit.opacity))
            j = end
        return items

    def _kept(self, members: list[Placed]) -> Callable[[np.ndarray, int], None]:
        ax, ay = members[0].x, members[0].y
        key = tuple((p.unit.library, p.unit.drawing, p.unit.mode, p.unit.opacity, p.x - ax, p.y - ay) for p in members)

        def make() -> Group:
            return build_group([Member(p.pixels, p.x - ax, p.y - ay, p.unit.mode, p.unit.opacity) for p in members])

        group = self.groups.get(key, make)
        return lambda rows, y0: group.lay(rows, ax, ay - y0)
