"""The screening cut's cuts, checked: every cut of ``edit.toml`` in order, with its movie in the edit's preset.

A movie must exist, hold its cut's frames and share one codec, pixel format, size and frame rate with the
others: ``-c copy`` concatenation needs that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compositor.errors import EncodeError, MissingInputError, SpecError
from compositor.spec import Edit, Shot, load_shot
from compositor.steps.encode import KEY_TAG, frame_rate, probe


@dataclass(frozen=True)
class CutEntry:
    """One cut as it sits in the screening cut."""

    shot: Shot
    movie: Path
    record_start: int
    """0-based index of the cut's first frame in the screening cut (the slate comes first)."""
    facts: dict[str, Any]
    """What ffprobe says of the cut's movie (see ``encode.probe``)."""

    @property
    def name(self) -> str:
        return self.shot.name

    @property
    def frames(self) -> int:
        return self.shot.frames

    @property
    def key(self) -> str | None:
        """The key the cut's movie carries (what made it)."""
        comment = self.facts.get("comment", "")
        return comment[len(KEY_TAG) :] if comment.startswith(KEY_TAG) else None


def check_fits_edit(shot: Shot) -> None:
    """A cut of the edit is joined into the screening cut by stream copy, so it must have the edit's frame rate
    and size; a cut that sets others is a `SpecError` naming its keys (said by `compositor validate`, and by
    `compositor cut` before anything renders, rather than by the join, naming a movie)."""
    edit = shot.edit.spec.edit
    if shot.name not in edit.cuts:
        return  # a cut outside the edit renders at whatever rate and size it likes
    where = shot.edit.production.rel(shot.edit.path)
    problems = []
    if frame_rate(shot.fps) != frame_rate(edit.fps):  # 23.98 is 23.976: one rate, 24000/1001
        problems.append(
            f"{shot.display}: shot.fps: {shot.fps:g} fps, but the screening cut ({where}) is {edit.fps:g} fps and "
            "joins its cuts as they are (leave fps out to take the edit's)"
        )
    if tuple(shot.size) != tuple(edit.size):
        problems.append(
            f"{shot.display}: shot.size: {shot.size[0]}x{shot.size[1]}, but the screening cut ({where}) is "
            f"{edit.size[0]}x{edit.size[1]} and joins its cuts as they are (leave size out to take the edit's)"
        )
    if problems:
        raise SpecError("\n".join(problems))


def plan_edit(edit: Edit, first_record: int) -> list[CutEntry]:
    """The cuts in edit.toml order with their movies, probed and checked (`MissingInputError` naming the first
    cut whose movie is missing, `EncodeError` for a movie that does not fit)."""
    production = edit.production
    entries: list[CutEntry] = []
    position = first_record
    rate = round(float(frame_rate(edit.edit.fps)), 3)
    first: tuple | None = None
    for name in edit.edit.cuts:
        shot = load_shot(production, name, edit)
        check_fits_edit(shot)
        movie = shot.movie()
        display = production.rel(movie)
        if not movie.is_file():
            raise MissingInputError(f"{display}: cut {name} is not encoded yet (run `make {name}` first)")
        facts = probe(movie)
        if facts["frames"] != shot.frames:
            raise EncodeError(
                f"{display}: holds {facts['frames']} frames but {name} has {shot.frames} (re-encode it: `make {name}`)"
            )
        got = (facts["codec"], facts["pix_fmt"], facts["width"], facts["height"], round(facts["fps"], 3))
        if first is None:
            first = got
        expected = ("h264", edit.preset.pix_fmt, first[2], first[3], rate)
        if got != expected:

            def show(v: tuple) -> str:
                return f"{v[0]} {v[1]} {v[2]}x{v[3]} at {v[4]:g} fps"

            raise EncodeError(
                f"{display}: is {show(got)}, but the screening cut ({edit.edit.encode!r} preset) needs "
                f"{show(expected)}: encode every cut with edit.toml's preset and size"
            )
        entries.append(CutEntry(shot, movie, position, facts))
        position += shot.frames
    return entries
