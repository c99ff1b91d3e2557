"""Timesheets (the exposure sheet of a layer): which drawing shows on which frame.

A layer's ``timing`` has one token a frame:

* a drawing number (``1``, ``12``): that drawing, from this frame on;
* ``.``: hold the previous drawing one more frame;
* ``x``: an empty frame (no drawing).

Shorthands that animators use expand to the same thing:

* ``5@3``: drawing 5 held for 3 frames (``5 . .``); ``x@4``: four empty frames;
* ``1-8@2``: drawings 1 to 8 on twos (``1 . 2 . ... 8 .``); ``8-1@2`` runs backwards; ``1-4`` is on ones;
* ``(1 2 3 2)*3``: a group repeated three times; ``(1-6@2)*``: a cycle repeated to fill the rest of the cut
  (at most one open-ended cycle per layer; it is cut off where the cut ends).

Tokens are separated by spaces (or commas). ``timing`` may also be a TOML list (``[1, ".", 2, "x"]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from compositor.errors import TimesheetError

Exposure = list[int | None]
"""One entry a frame: the drawing number shown, or ``None`` for an empty frame."""

_RUN = re.compile(r"^(\d+)(?:-(\d+))?(?:@(\d+))?$")
_EMPTY = re.compile(r"^[xX](?:@(\d+))?$")


def _tokenize(text: str) -> list[str]:
    text = text.replace(",", " ").replace("(", " ( ").replace(")", " ) ")
    # ``)*3`` and ``)*`` belong to the group before them
    text = re.sub(r"\)\s*\*(\d*)", lambda m: f")*{m.group(1)} ", text)
    return text.split()


_MAX_DIGITS = 12
"""A drawing number, hold or repeat count longer than this is refused before ``int()`` reads it (Python
refuses numbers of over 4300 digits with a bare ValueError, and no cut is that long anyway)."""


def _number(digits: str, tok: str) -> int:
    if len(digits) > _MAX_DIGITS:
        raise TimesheetError(f"{_shown(tok)}: the number {digits[:_MAX_DIGITS]}... is too large")
    return int(digits)


def _shown(text: str) -> str:
    """A token or group as the error quotes it (long groups cut short)."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _Items:
    """The per-frame items of a timing (``'.'`` kept for holds), built only up to ``limit`` entries.

    Past the limit only the count goes on (``len``): a timing too long is reported with its exact length, and
    an open-ended cycle longer than the cut is cut off, without ever holding more than ``limit`` items.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.items: list[str | int | None] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def _room(self) -> int:
        return max(0, self.limit - len(self.items))

    def extend(self, items: list[str | int | None], times: int = 1) -> None:
        """``items`` repeated ``times`` times."""
        self.count += len(items) * times
        room = self._room()
        if room and items:
            self.items.extend((items * min(times, -(-room // len(items))))[:room])

    def held(self, drawings: range | list[None], hold: int) -> None:
        """Each of ``drawings`` held ``hold`` frames (``None``: empty frames, which a hold keeps empty)."""
        self.count += len(drawings) * hold
        for drawing in drawings:
            room = self._room()
            if not room:
                return
            self.items.append(drawing)
            self.items.extend([None if drawing is None else "."] * min(hold - 1, room - 1))


def _closing(tokens: list[str], pos: int) -> str:
    """The token that closes the group opened at ``pos`` (``)``, ``)*3``, ``)*``), or "" if none does."""
    depth = 0
    for tok in tokens[pos:]:
        if tok == "(":
            depth += 1
        elif tok.startswith(")"):
            depth -= 1
            if depth == 0:
                return tok
    return ""


def _expand(
    tokens: list[str], pos: int, closing: bool, frames: int, cut_off: bool = False
) -> tuple[_Items, int, list[tuple[int, list]]]:
    """Expand tokens into per-frame items ('.' kept for holds); returns (items, next position, fill cycles).

    ``frames`` is the cut's length: a token or group that alone would make more frames is refused before it is
    expanded, naming how many it would make, except inside an open-ended cycle (``cut_off``), which the cut
    cuts off wherever it ends; there only the first ``frames`` items are built.
    """
    items = _Items(frames)
    fills: list[tuple[int, list]] = []

    def refuse_over(count: int, text: str) -> None:
        if count > frames and not cut_off:
            raise TimesheetError(f"{_shown(text)} makes {count} frames, but the cut is {frames}")

    while pos < len(tokens):
        tok = tokens[pos]
        if tok == "(":
            start = pos
            cycle = _closing(tokens, pos) == ")*"
            inner, pos, inner_fills = _expand(tokens, pos + 1, closing=True, frames=frames, cut_off=cut_off or cycle)
            if inner_fills:
                raise TimesheetError("an open-ended cycle '(...)*' cannot sit inside another group")
            if pos >= len(tokens) or not tokens[pos].startswith(")"):
                raise TimesheetError("a '(' group is never closed")
            repeat = tokens[pos][1:]
            group = ("(" + " ".join(tokens[start + 1 : pos]) + tokens[pos]).replace("( ", "(").replace(" )", ")")
            pos += 1
            if repeat == "*":
                fills.append((len(items), inner.items))
                continue
            times = 1 if repeat == "" else _number(repeat[1:], group)  # plain parentheses: once
            refuse_over(len(inner) * times, group)
            items.extend(inner.items, times)
            continue
        if tok.startswith(")"):
            if not closing:
                raise TimesheetError(f"unexpected {tok!r}: no '(' open")
            return items, pos, fills
        if tok == ".":
            items.extend(["."])
        elif m := _EMPTY.match(tok):
            count = _number(m.group(1) or "1", tok)
            refuse_over(count, tok)
            if count:
                items.held([None], count)
        elif m := _RUN.match(tok):
            first, hold = _number(m.group(1), tok), _number(m.group(3) or "1", tok)
            if hold < 1:
                raise TimesheetError(f"{tok!r}: a drawing must be held at least 1 frame")
            last = first if m.group(2) is None else _number(m.group(2), tok)
            refuse_over((abs(last - first) + 1) * hold, tok)
            step = 1 if last >= first else -1
            items.held(range(first, last + step, step), hold)
        else:
            raise TimesheetError(
                f"{tok!r} is not a timesheet token (a drawing number, '.', 'x', 'N@hold', 'A-B@hold' or '(...)*N')"
            )
        pos += 1
    if closing:
        raise TimesheetError("a '(' group is never closed")
    return items, pos, fills


def parse_timing(timing: str | Sequence[int | str], frames: int) -> Exposure:
    """Expand a layer's timing into one entry a frame; ``frames`` is the cut's length.

    Nothing longer than the cut is ever built: a token or group that would make more frames than the cut has
    is refused as it is read (inside an open-ended cycle, which the cut cuts off, it is built only as far as
    the cut goes), and a timing too long in total is measured, not expanded.

    >>> parse_timing("1 . 2 x", 4)
    [1, 1, 2, None]
    >>> parse_timing("(1-2@2)*", 6)
    [1, 1, 2, 2, 1, 1]
    """
    text = timing if isinstance(timing, str) else " ".join(str(t) for t in timing)
    expanded, _, fills = _expand(_tokenize(text), 0, closing=False, frames=frames)
    if len(fills) > 1:
        raise TimesheetError("only one open-ended cycle '(...)*' is allowed per layer")
    items = expanded.items
    if fills:
        at, cycle = fills[0]
        room = frames - len(expanded)
        if not cycle:
            raise TimesheetError("an open-ended cycle '()*' is empty")
        if room < 0:
            raise TimesheetError(f"{len(expanded)} frames before the cycle, but the cut is {frames}")
        filled = (cycle * (room // len(cycle) + 1))[:room]
        items = items[:at] + filled + items[at:]
    elif len(expanded) != frames:
        raise TimesheetError(f"{len(expanded)} frames, but the cut is {frames}")
    out: Exposure = []
    current: int | None = None
    for i, item in enumerate(items):
        if item == ".":
            if i == 0:
                raise TimesheetError("frame 1 is a hold ('.') with no drawing before it")
            out.append(current)
            continue
        current = item  # type: ignore[assignment]
        out.append(current)
    return out


def changes(exposure: Exposure) -> list[int]:
    """0-based frame indices where the shown drawing changes (including the first frame)."""
    return [i for i, d in enumerate(exposure) if i == 0 or d != exposure[i - 1]]
