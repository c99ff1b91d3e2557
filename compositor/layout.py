"""Where everything made lives: the one module that builds a path under ``render/``.

The steps, ``compositor deps`` (and through it the Makefile) all ask here; nothing else joins a render path.
Pure: paths from the production's root and names, no file is touched.

```
render/
  deps.mk                            the make dependency file (compositor deps)
  deps-links/<hash>                  links to the inputs whose names make cannot spell (compositor deps)
  cache/<kk>/<key>.png (.json)       background canvases by content key, with their provenance
  <cut>/bg/bg.0001.png … bg.json     the cut's background canvases; bg.json (last) records their key
  <cut>/bg/variants.png              the contact sheet of its variants (compositor bg <cut> --variants N)
  <cut>/comp/<cut>.0001.png …        composited frames (or .exr), each carrying its own key; comp.json last
  <cut>/<cut>.mp4                    the cut in the edit's preset (what the screening cut joins)
  <cut>/<cut>.<preset>.mp4 (.mov …)  the cut in any other preset, in its container
  <cut>/segments/<preset>/           the movie's independently encoded segments, their key in their name
  <cut>/qc.json                      what the temporal pass measured
  <cut>/<cut>.log                    the last run's log lines
  <cut>/<cut>.run.json               what the last run did and how long it took (the summary at the end of make)
  <cut>/<cut>.sheet.png              the cut's contact sheet (compositor sheet)
  <cut>/stills/<cut>.<frame>.png     single frames rendered for review (compositor still)
  <edit>.mp4 .otio .edl .html        the screening cut, editorial exports, the review page
  <edit>.thumbs/<cut>.png            the review page's thumbnails (<cut>.json: the movie's PSNR, by its key)
  <edit>.thumbs/<font>.otf           the review page's font for Japanese
  <edit>.poster.png                  the review page's poster: the screening cut's first frame
  <edit>.proxy.webm                  VP9 for the review page when the edit's preset is not 8-bit 4:2:0 H.264
  <edit>.notes.json                  reviewers' notes per frame (`compositor review` writes it)
  <edit>.run.json                    what the last screening-cut run did and how long it took
  <edit>.starts                      each cut's first frame in the screening cut (compositor deps)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RENDER = "render"
FRAME_SUFFIXES = {"png8": ".png", "png16": ".png", "exr": ".exr"}
"""A comp frame's file suffix for each frame format (``[output] frames``)."""
DEPS_FILE = "deps.mk"
CACHE = "cache"


def render_root(root: Path) -> Path:
    return root / RENDER


def deps_file(root: Path) -> Path:
    return render_root(root) / DEPS_FILE


def code_key_file(root: Path) -> Path:
    """The key of the compositor code that renders (``compositor code-key``): rewritten only when the code changed,
    so make re-runs each step after an upgrade and the step's own keys decide what to make again."""
    return render_root(root) / "code.key"


def deps_links(root: Path) -> Path:
    """Links to the inputs whose names make cannot spell, named by a hash (``compositor deps`` makes them)."""
    return render_root(root) / "deps-links"


def cache_root(root: Path) -> Path:
    return render_root(root) / CACHE


def cache_file(root: Path, key: str) -> Path:
    """A cached background canvas by its content key (its provenance JSON sits beside it)."""
    return cache_root(root) / key[:2] / f"{key}.png"


@dataclass(frozen=True)
class CutPaths:
    """Every output of one cut, under ``render/<cut>/``."""

    root: Path
    cut: str
    frame_suffix: str = ".png"
    """The comp frames' suffix: ``.png``, or ``.exr`` (``[output] frames = "exr"``)."""

    @property
    def folder(self) -> Path:
        return render_root(self.root) / self.cut

    # Background
    @property
    def bg_folder(self) -> Path:
        return self.folder / "bg"

    @property
    def bg_manifest(self) -> Path:
        return self.bg_folder / "bg.json"

    @property
    def bg_variants(self) -> Path:
        """The contact sheet of the background's variants (``compositor bg <cut> --variants N``)."""
        return self.bg_folder / "variants.png"

    def bg_frame(self, index: int) -> Path:
        """Background canvas ``index`` (0-based)."""
        return self.bg_folder / f"bg.{index + 1:04d}.png"

    def bg_frames(self) -> dict[int, Path]:
        """The background canvases there are, by 0-based index."""
        found = {}
        for path in self.bg_folder.glob("bg.*.png"):
            number = path.name.split(".")[1]
            if number.isdigit():
                found[int(number) - 1] = path
        return found

    @property
    def qc(self) -> Path:
        return self.folder / "qc.json"

    # Composite
    @property
    def comp_folder(self) -> Path:
        return self.folder / "comp"

    @property
    def comp_manifest(self) -> Path:
        return self.comp_folder / "comp.json"

    def comp_frame(self, number: int) -> Path:
        """The comp frame of timesheet frame ``number``."""
        return self.comp_folder / f"{self.cut}.{number:04d}{self.frame_suffix}"

    @property
    def comp_pattern(self) -> Path:
        return self.comp_folder / f"{self.cut}.%04d{self.frame_suffix}"

    def comp_frames(self) -> dict[int, Path]:
        """The comp frames there are, by timesheet number."""
        found = {}
        for path in self.comp_folder.glob(f"{self.cut}.*{self.frame_suffix}"):
            stem, _, number = path.stem.rpartition(".")
            if stem == self.cut and number.isdigit():
                found[int(number)] = path
        return found

    # Encode
    def movie(self, preset: str, edit_preset: str, suffix: str = ".mp4") -> Path:
        """The cut's movie in ``preset``: the edit's preset keeps ``<cut>.mp4``, any other ``<cut>.<preset><suffix>``
        (``suffix``: the preset's container, ``.mov`` for ProRes)."""
        return self.folder / (f"{self.cut}{suffix}" if preset == edit_preset else f"{self.cut}.{preset}{suffix}")

    def segments(self, preset: str) -> Path:
        return self.folder / "segments" / preset

    def segment(self, preset: str, first: int, last: int, key: str, suffix: str = ".mp4") -> Path:
        """The segment of timesheet frames ``first`` to ``last`` of the movie in ``preset``, made from inputs
        whose key is ``key``: the name says what made it, so a segment can never be taken for another.
        ``suffix``: ``.mp4`` for an mp4 movie, ``.mov`` for the others (joined by stream copy into theirs)."""
        return self.segments(preset) / f"{self.cut}.{first:04d}-{last:04d}.{key}{suffix}"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.cut}.log"

    @property
    def run_record(self) -> Path:
        return self.folder / f"{self.cut}.run.json"

    # Review
    @property
    def sheet(self) -> Path:
        return self.folder / f"{self.cut}.sheet.png"

    def still(self, number: int) -> Path:
        return self.folder / "stills" / f"{self.cut}.{number:04d}.png"


@dataclass(frozen=True)
class EditPaths:
    """The screening cut's outputs, under ``render/``."""

    root: Path
    name: str

    def _file(self, suffix: str) -> Path:
        return render_root(self.root) / f"{self.name}{suffix}"

    @property
    def movie(self) -> Path:
        return self._file(".mp4")

    @property
    def otio(self) -> Path:
        return self._file(".otio")

    @property
    def edl(self) -> Path:
        return self._file(".edl")

    @property
    def html(self) -> Path:
        return self._file(".html")

    @property
    def thumbs(self) -> Path:
        return self._file(".thumbs")

    @property
    def notes(self) -> Path:
        """Review notes (a reviewer's, beside the page): markers in the OTIO and EDL."""
        return self._file(".notes.json")

    def thumb(self, cut: str) -> Path:
        return self.thumbs / f"{cut}.png"

    def movie_qc(self, cut: str) -> Path:
        """The PSNR of the cut's movie against its comp frames, with the movie's key (the review page's)."""
        return self.thumbs / f"{cut}.json"

    def page_font(self, name: str) -> Path:
        """The font the review page shows Japanese with (a copy of the shipped one: the page works offline)."""
        return self.thumbs / name

    @property
    def proxy(self) -> Path:
        """A VP9 copy of the screening cut for browsers, when its own preset is not one they play."""
        return self._file(".proxy.webm")

    @property
    def poster(self) -> Path:
        return self._file(".poster.png")

    @property
    def run_record(self) -> Path:
        return self._file(".run.json")

    @property
    def record_starts(self) -> Path:
        """Each cut's first frame in the screening cut (``compositor deps`` rewrites it only when one moves): what
        a burnt-in record timecode depends on, rather than on every spec of the cuts before it."""
        return self._file(".starts")

    @property
    def files(self) -> dict[str, Path]:
        """The outputs by kind, as `compositor cut` writes them."""
        return {"mp4": self.movie, "otio": self.otio, "edl": self.edl, "html": self.html}
