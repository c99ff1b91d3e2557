"""Make ``NotoSansMonoCJKjp-subset.otf``, the burn-in and slate font, from Noto Sans Mono CJK JP (SIL OFL 1.1).

Not run by the pipeline: run by hand to regenerate the shipped file (needs ``pip install fonttools``), e.g.::

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb noto
    python compositor/fonts/subset_cjk.py noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

The whole face has 65,535 glyphs (16 MB); burn-ins need what a Japanese or Western title, a cut name and a
timecode are written with: Latin-1 and general punctuation, the whole of JIS X 0208 (its symbols, Greek and
Cyrillic rows, hiragana, katakana, and the 2,965 kanji of level 1, those of everyday writing), the CJK
symbols, half- and full-width forms (2 MB; a title with rarer kanji names a font of its own in edit.toml). Latin is half width and monospaced (counters do not jitter), kana and
kanji full width. ``NotoSansMonoCJKjp-subset.txt`` beside the font lists the code points it covers, so the
pipeline can tell which characters of a title it lacks without a font library.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "NotoSansMonoCJKjp-subset.otf"
COVERAGE = HERE / "NotoSansMonoCJKjp-subset.txt"
FACE = "Noto Sans Mono CJK JP"


def jis_x_0208_level_1() -> set[int]:
    """JIS X 0208 rows 1-47 (symbols, kana, level-1 kanji), through EUC-JP."""
    found: set[int] = set()
    for row in range(1, 48):
        for cell in range(1, 95):
            try:
                text = bytes([0xA0 + row, 0xA0 + cell]).decode("euc_jp")
            except UnicodeDecodeError:
                continue
            found.update(ord(c) for c in text)
    return found


def wanted() -> set[int]:
    ranges = [
        (0x20, 0x7E),  # ASCII
        (0xA0, 0xFF),  # Latin-1
        (0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis
        (0x2030, 0x203B),
        (0x2190, 0x2193),  # arrows
        (0x3000, 0x303F),  # CJK symbols and punctuation
        (0x3040, 0x30FF),  # hiragana, katakana
        (0x31F0, 0x31FF),  # katakana phonetic extensions
        (0xFF00, 0xFFEF),  # half- and full-width forms
    ]
    codes = {c for lo, hi in ranges for c in range(lo, hi + 1)}
    codes |= {0x00D7, 0x2212, 0x2116, 0x2122, 0x25A0, 0x25B2, 0x25CF}
    return codes | jis_x_0208_level_1()


def main(source: str) -> None:
    from fontTools import subset  # noqa: PLC0415
    from fontTools.ttLib import TTCollection, TTFont  # noqa: PLC0415

    if source.endswith(".ttc"):
        faces = [f for f in TTCollection(source).fonts if f["name"].getDebugName(4) == FACE]
        if not faces:
            raise SystemExit(f"{source}: no face {FACE!r}")
        font = faces[0]
    else:
        font = TTFont(source)
    cmap = font.getBestCmap()
    codes = sorted(c for c in wanted() if c in cmap)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True  # a character the font lacks shows as a box, not as nothing
    options.hinting = False  # rasterised at video sizes by FreeType's auto-hinter anyway
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codes)
    subsetter.subset(font)
    font.save(OUT)
    spans: list[list[int]] = []
    for c in codes:
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    COVERAGE.write_text(
        "# Code point ranges (hex, inclusive) covered by NotoSansMonoCJKjp-subset.otf, written by subset_cjk.py\n"
        + "".join(f"{lo:04X}-{hi:04X}\n" for lo, hi in spans),
        encoding="ascii",
    )
    print(f"{OUT.name}: {len(codes)} characters, {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
