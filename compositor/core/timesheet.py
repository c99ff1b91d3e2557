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


def _expand(tokens: list[str], pos: int, closing: bool) -> tuple[list[str | int | None], int, list[tuple[int, list]]]:
    """Expand tokens into per-frame items ('.' kept for holds); returns (items, next position, fill cycles)."""
    items: list[str | int | None] = []
    fills: list[tuple[int, list]] = []
    while pos < len(tokens):
        tok = tokens[pos]
        if tok == "(":
            inner, pos, inner_fills = _expand(tokens, pos + 1, closing=True)
            if inner_fills:
                raise TimesheetError("an open-ended cycle '(...)*' cannot sit inside another group")
            if pos >= len(tokens) or not tokens[pos].startswith(")"):
                raise TimesheetError("a '(' group is never closed")
            repeat = tokens[pos][1:]
            pos += 1
            if repeat == "":
                items.extend(inner)  # plain parentheses
            elif repeat == "*":
                fills.append((len(items), inner))
            else:
                items.extend(inner * int(repeat[1:]))
            continue
        if tok.startswith(")"):
            if not closing:
                raise TimesheetError(f"unexpected {tok!r}: no '(' open")
            return items, pos, fills
        if tok == ".":
            items.append(".")
        elif m := _EMPTY.match(tok):
            items.extend([None] * int(m.group(1) or 1))
        elif m := _RUN.match(tok):
            first, last, hold = int(m.group(1)), m.group(2), int(m.group(3) or 1)
            if hold < 1:
                raise TimesheetError(f"{tok!r}: a drawing must be held at least 1 frame")
            drawings = [first]
            if last is not None:
                last_i = int(last)
                step = 1 if last_i >= first else -1
                drawings = list(range(first, last_i + step, step))
            for d in drawings:
                items.append(d)
                items.extend(["."] * (hold - 1))
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

    >>> parse_timing("1 . 2 x", 4)
    [1, 1, 2, None]
    >>> parse_timing("(1-2@2)*", 6)
    [1, 1, 2, 2, 1, 1]
    """
    text = timing if isinstance(timing, str) else " ".join(str(t) for t in timing)
    items, _, fills = _expand(_tokenize(text), 0, closing=False)
    if len(fills) > 1:
        raise TimesheetError("only one open-ended cycle '(...)*' is allowed per layer")
    if fills:
        at, cycle = fills[0]
        room = frames - len(items)
        if not cycle:
            raise TimesheetError("an open-ended cycle '()*' is empty")
        if room < 0:
            raise TimesheetError(f"{len(items)} frames before the cycle, but the cut is {frames}")
        filled = (cycle * (room // len(cycle) + 1))[:room]
        items = items[:at] + filled + items[at:]
    if len(items) != frames:
        raise TimesheetError(f"{len(items)} frames, but the cut is {frames}")
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
