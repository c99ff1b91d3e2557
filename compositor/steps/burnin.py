"""Burn-ins: what a check movie shows over (or around) the picture, drawn by ffmpeg's ``drawtext``.

- top left: the cut's name and the edit's ``version`` (``sc010_c010  v003``);
- top right: the timesheet frame number (``%{eif:n+start}``: ffmpeg counts output frames from 0);
- bottom left: the edit's title, made smaller (never under 8 px) when it would run into the timecode;
- bottom right: the record timecode, counted by drawtext's own ``timecode`` from the segment's first frame:
  ``edit.start_timecode`` plus the slate plus the cuts before this one in edit.toml.

Text is sized as a fraction of the frame height (``burn_in_size``) and placed as the preset's
``burn_in_layout`` says: ``corners`` (a translucent box behind each text) or ``letterbox`` (opaque bands over
the top and bottom of the picture, ``burn_in_band`` high, the text centred in them; the frame keeps its
size, so movies still join the slate and each other, and compare 1:1 with the comp frames).

The font is the edit's ``font`` or the shipped subset of Noto Sans Mono CJK JP (``compositor/fonts/``):
Latin is half width and monospaced, kana and kanji full width, which is how widths are estimated here
(`text_width`). Every setting here enters the segment key (`settings`).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from compositor.core.digest import file_digest
from compositor.core.timecode import to_frames, to_timecode
from compositor.spec import Edit, EncodePreset, Shot, ShotSpec, parse_model, read_toml

FONTS = Path(__file__).resolve().parents[1] / "fonts"
FONT = FONTS / "NotoSansMonoCJKjp-subset.otf"
"""The shipped burn-in and slate font (SIL OFL 1.1; ``fonts/LICENSE-NotoSansCJK.txt``)."""
FONT_COVERAGE = FONTS / "NotoSansMonoCJKjp-subset.txt"


def font_of(edit: Edit) -> Path:
    """The font burn-ins and the slate use: ``edit.font`` when named, else the shipped one."""
    return edit.font if edit.font is not None else FONT


@lru_cache(maxsize=1)
def _shipped_coverage() -> tuple[tuple[int, int], ...]:
    spans = []
    for line in FONT_COVERAGE.read_text(encoding="ascii").splitlines():
        if line and not line.startswith("#"):
            lo, _, hi = line.partition("-")
            spans.append((int(lo, 16), int(hi, 16)))
    return tuple(spans)


def missing_glyphs(text: str, font: Path = FONT) -> str:
    """The characters of ``text`` the shipped font has no glyph for (they would burn in as boxes), in order,
    each once; "" for a font the edit names (its coverage is not known without a font library)."""
    if font != FONT:
        return ""
    spans = _shipped_coverage()
    gone = []
    for ch in dict.fromkeys(text):
        code = ord(ch)
        if ch in "\n\t" or any(lo <= code <= hi for lo, hi in spans):
            continue
        gone.append(ch)
    return "".join(gone)


def text_width(text: str) -> float:
    """The width of one line of ``text`` in em: half an em a character, a whole em for a wide (CJK) one."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.5 for c in text)


# ------------------------------------------------------------------------------------------------------------
# Timecode


# (the arithmetic lives in compositor.core.timecode)


def slate_frame_count(edit: Edit) -> int:
    return round(edit.edit.slate * edit.edit.fps)


def record_start(shot: Shot) -> int | None:
    """Frames from the screening cut's first frame (the slate's) to this cut's first, or None when the cut
    is not in edit.toml. Reads the lengths of the cuts before it from their shot.toml."""
    cuts = shot.edit.edit.cuts
    if shot.name not in cuts:
        return None
    production = shot.production
    before = 0
    for name in cuts[: cuts.index(shot.name)]:
        path = production.shot_path(name)
        display = production.rel(path)
        spec: ShotSpec = parse_model(ShotSpec, read_toml(path, display), display)
        before += spec.shot.frames
    return slate_frame_count(shot.edit) + before


# ------------------------------------------------------------------------------------------------------------
# Drawing


@dataclass(frozen=True)
class BurnIn:
    """Everything a cut's burn-ins are drawn from (and keyed by)."""

    cut: str
    title: str
    version: str
    font: Path
    fps: float
    start_timecode: str
    record_start: int | None
    """Record frame of the cut's first frame (None: no record timecode)."""
    drop_frame: bool = False
    """Drop-frame timecode (``edit.drop_frame``, at 29.97 or 59.94 fps)."""

    @classmethod
    def of(cls, shot: Shot, preset: EncodePreset) -> BurnIn:
        edit = shot.edit.edit
        return cls(
            cut=shot.name,
            title=shot.title,
            version=edit.version,
            font=font_of(shot.edit),
            fps=shot.fps,
            start_timecode=edit.start_timecode,
            record_start=record_start(shot) if preset.burn_in_timecode else None,
            drop_frame=bool(getattr(edit, "drop_frame", False)),  # the editorial exports' key, where there is one
        )

    def settings(self, preset: EncodePreset) -> dict[str, Any]:
        """What enters the segment key (the preset's burn-in keys are in it already, with the preset)."""
        return {
            "cut": self.cut,
            "title": self.title,
            "version": self.version,
            "font": file_digest(self.font),
            "start_timecode": self.start_timecode,
            "record_start": self.record_start,
            "drop_frame": self.drop_frame,
            "layout": [preset.burn_in_layout, preset.burn_in_band, preset.burn_in_size],
        }

    def record_timecode(self, index: int) -> str | None:
        """The record timecode of the cut's frame ``index`` (0-based)."""
        if self.record_start is None:
            return None
        # The start is a label in the edit's kind of timecode, whichever separator it was written with.
        start = to_frames(self.start_timecode, self.fps, self.drop_frame)
        return to_timecode(start + self.record_start + index, self.fps, self.drop_frame)


def burn_in_font_size(height: int, preset: EncodePreset) -> int:
    return max(8, round(height * preset.burn_in_size))


def text_layout(height: int, preset: EncodePreset) -> tuple[int, int, int]:
    """The burn-ins' font size, letterbox band height (0 for ``corners``) and margin in pixels, for frames
    ``height`` pixels high: the text fits its band (with 2 px above and below) and is never under 8 px."""
    fontsize = burn_in_font_size(height, preset)
    if preset.burn_in_layout != "letterbox":
        return fontsize, 0, max(2, fontsize // 2)
    band = max(12, round(height * preset.burn_in_band))
    fontsize = max(8, min(fontsize, band - 4))
    return fontsize, band, max(2, round(fontsize * 0.6))


def drawtext_escape(text: str) -> str:
    """Escape literal text for drawtext's expansion (``%{...}``, backslashes); ffmpeg-python adds the rest."""
    return text.replace("\\", "\\\\").replace("%", "\\%")


def draw(
    stream: Any,
    size: tuple[int, int],
    preset: EncodePreset,
    burn: BurnIn,
    first: int,
    start: int,
) -> Any:
    """``stream`` with the burn-ins of frames from the cut's frame ``first`` (0-based) on, whose timesheet
    number is ``start``. ``size`` is the frame's (W, H) as encoded."""
    width, height = size
    fontsize, band, margin = text_layout(height, preset)
    common: dict[str, Any] = {"fontfile": str(burn.font), "fontcolor": "white"}
    if band:
        stream = stream.filter("drawbox", x=0, y=0, w="iw", h=band, color="black", t="fill")
        stream = stream.filter("drawbox", x=0, y=f"ih-{band}", w="iw", h=band, color="black", t="fill")
        top, bottom = f"({band}-th)/2", f"h-{band}+({band}-th)/2"
    else:
        common.update(box=1, boxcolor="black@0.55", boxborderw=max(1, fontsize // 5))
        top, bottom = str(margin), f"h-th-{margin}"
    common["fontsize"] = fontsize

    label = f"{burn.cut}  {burn.version}" if burn.version else burn.cut
    stream = stream.filter("drawtext", text=drawtext_escape(label), x=margin, y=top, **common)
    stream = stream.filter("drawtext", text=f"%{{eif:n+{start}:d:4}}", x=f"w-tw-{margin}", y=top, **common)
    reserved = 0.0
    tc = burn.record_timecode(first)
    if tc is not None:
        from compositor.steps.encode import frame_rate  # noqa: PLC0415 (encode imports this module)

        rate = frame_rate(burn.fps)  # 30000/1001 at 29.97: what drawtext's drop-frame counting needs
        stream = stream.filter(
            "drawtext",
            timecode=tc,
            timecode_rate=f"{rate.numerator}/{rate.denominator}",
            x=f"w-tw-{margin}",
            y=bottom,
            **common,
        )
        reserved = 11 * 0.5 * fontsize + 2 * margin  # "HH:MM:SS:FF" and the gap before it
    if burn.title:
        # Smaller rather than over the timecode: the title gets the width the timecode leaves.
        room = width - 2 * margin - reserved
        title_size = max(8, min(fontsize, math.floor(room / max(0.5, text_width(burn.title)))))
        stream = stream.filter(
            "drawtext",
            text=drawtext_escape(burn.title),
            x=margin,
            y=bottom,
            **{**common, "fontsize": title_size},
        )
    return stream


def draw_cut(stream: Any, shot: Shot, preset: EncodePreset) -> Any:
    """The burn-ins of the whole cut from its first frame (what an encoder of all its frames at once draws)."""
    sx, sy = preset.subsampling
    size = (-(-shot.size[0] // sx) * sx, -(-shot.size[1] // sy) * sy)
    return draw(stream, size, preset, BurnIn.of(shot, preset), 0, shot.start)
