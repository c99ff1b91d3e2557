"""Burn-ins: Japanese text renders as glyphs (compared with the font rendered directly by FreeType through
Pillow, and with the boxes of characters the font lacks), the record timecode is the right one for a frame,
and every burn-in setting reaches the segment key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from compositor.core.timecode import to_frames
from compositor.errors import SpecError
from compositor.spec import EncodePreset, Production, load_edit, load_shot
from compositor.steps import burnin
from compositor.steps.encode import MoviePlan, ffmpeg_exe
from tests.test_encode import CUT, make_production

JAPANESE = "猫と散歩"
LACKING = "𠮷𠀋𡈽𡌛"  # outside JIS level 1 (and the BMP): the shipped font draws its .notdef box for each


def draw_frames(size: tuple[int, int], filters, frames: int = 1) -> np.ndarray:  # noqa: ANN001
    """``frames`` frames of a black source through ``filters(stream)``, as uint8 RGB (N, H, W, 3)."""
    w, h = size
    stream = filters(ffmpeg.input(f"color=c=black:s={w}x{h}:r=24", f="lavfi"))
    args = stream.output("pipe:", format="rawvideo", pix_fmt="rgb24", frames=frames).compile(cmd=ffmpeg_exe())
    done = subprocess.run(args, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return np.frombuffer(done.stdout, np.uint8).reshape(frames, h, w, 3)


def ink(gray: np.ndarray) -> np.ndarray:
    """The bright part of ``gray`` cropped to its bounding box and scaled to 32x128, as float in [0, 1]."""
    ys, xs = np.nonzero(gray > 96)
    assert len(ys), "nothing drawn"
    crop = Image.fromarray(gray[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    return np.asarray(crop.resize((128, 32), Image.Resampling.BILINEAR), np.float32) / 255


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def pil_text(text: str, fontsize: int) -> np.ndarray:
    """``text`` drawn white on black with the shipped font by Pillow (FreeType), as a uint8 gray image."""
    font = ImageFont.truetype(str(burnin.FONT), fontsize)
    image = Image.new("L", (fontsize * (len(text) + 2), fontsize * 2), 0)
    ImageDraw.Draw(image).text((fontsize // 2, fontsize // 2), text, fill=255, font=font)
    return np.asarray(image)


def burnt_title(title: str, size: tuple[int, int] = (480, 270)) -> tuple[np.ndarray, int]:
    """The bottom-left text region of a letterbox burn-in of ``title`` (gray), and the font size used."""
    preset = EncodePreset.model_validate({"burn_in": True, "burn_in_layout": "letterbox", "burn_in_size": 0.1})
    burn = burnin.BurnIn("c", title, "", burnin.FONT, 24.0, "01:00:00:00", None)
    frame = draw_frames(size, lambda s: burnin.draw(s, size, preset, burn, 0, 1))[0]
    fontsize, band, _ = burnin.text_layout(size[1], preset)
    assert band == round(size[1] * preset.burn_in_band) and fontsize == band - 4
    assert frame[band : size[1] - band].max() == 0  # nothing drawn between the bands
    return frame[size[1] - band :, : size[0] // 2].mean(axis=2).astype(np.uint8), fontsize


def test_a_japanese_title_burns_in_as_its_glyphs_not_as_boxes() -> None:
    region, fontsize = burnt_title(JAPANESE)
    burnt = ink(region)
    glyphs = ink(pil_text(JAPANESE, fontsize))
    boxes = ink(pil_text(LACKING, fontsize))
    assert burnin.missing_glyphs(JAPANESE) == ""
    assert burnin.missing_glyphs(LACKING) == LACKING
    # The same text through FreeType directly looks like the burn-in; the .notdef boxes do not.
    assert similarity(burnt, glyphs) > 0.8
    assert similarity(burnt, boxes) < 0.5
    # And what the font lacks does burn in as the boxes (so the comparison can tell them apart).
    assert similarity(ink(burnt_title(LACKING)[0]), boxes) > 0.8


def test_record_timecode_burnt_in_is_the_frames_own() -> None:
    """Frame 7 of a segment starting at cut frame 10 of a cut 48 frames into the screening cut, from
    01:00:00:00 at 24 fps: 48 + 10 + 7 = 65 frames, 01:00:02:17; compared with that text drawn as it is."""
    size = (320, 180)
    preset = EncodePreset.model_validate({"burn_in": True, "burn_in_size": 0.08})
    burn = burnin.BurnIn("c", "", "", burnin.FONT, 24.0, "01:00:00:00", 48)
    assert burn.record_timecode(17) == "01:00:02:17"
    frames = draw_frames(size, lambda s: burnin.draw(s, size, preset, burn, 10, 11), frames=8)
    fontsize = burnin.burn_in_font_size(size[1], preset)
    margin = max(2, fontsize // 2)
    common = {
        "fontfile": str(burnin.FONT), "fontsize": fontsize, "fontcolor": "white", "box": 1,
        "boxcolor": "black@0.55", "boxborderw": max(1, fontsize // 5),
    }
    corner = (slice(size[1] // 2, None), slice(size[0] // 2, None))

    def literal(text: str) -> np.ndarray:
        return draw_frames(
            size,
            lambda s: s.filter("drawtext", text=text, expansion="none", x=f"w-tw-{margin}", y=f"h-th-{margin}", **common),
        )[0][corner]

    assert np.array_equal(frames[7][corner], literal("01:00:02:17"))
    assert not np.array_equal(frames[6][corner], literal("01:00:02:17"))
    assert np.array_equal(frames[0][corner], literal("01:00:02:10"))


def test_drop_frame_timecode_burnt_in_skips_as_drop_frame_does() -> None:
    """At 29.97 drop-frame, the frame after 00:00:59;29 is 00:01:00;02: drawtext counts as we do."""
    size = (320, 180)
    preset = EncodePreset.model_validate({"burn_in": True, "burn_in_size": 0.08})
    start = to_frames("00:00:59;28", 29.97, drop_frame=True)
    burn = burnin.BurnIn("c", "", "", burnin.FONT, 29.97, "00:00:00;00", start, drop_frame=True)
    assert [burn.record_timecode(i) for i in range(4)] == ["00:00:59;28", "00:00:59;29", "00:01:00;02", "00:01:00;03"]

    def bottom_right(filters) -> np.ndarray:  # noqa: ANN001
        w, h = size
        stream = filters(ffmpeg.input(f"color=c=black:s={w}x{h}:r=30000/1001", f="lavfi"))
        args = stream.output("pipe:", format="rawvideo", pix_fmt="rgb24", frames=4).compile(cmd=ffmpeg_exe())
        done = subprocess.run(args, capture_output=True, check=True)
        return np.frombuffer(done.stdout, np.uint8).reshape(4, h, w, 3)[:, h // 2 :, w // 2 :]

    burnt = bottom_right(lambda s: burnin.draw(s, size, preset, burn, 0, 1))
    fontsize = burnin.burn_in_font_size(size[1], preset)
    margin = max(2, fontsize // 2)
    common = {
        "fontfile": str(burnin.FONT), "fontsize": fontsize, "fontcolor": "white", "box": 1,
        "boxcolor": "black@0.55", "boxborderw": max(1, fontsize // 5), "x": f"w-tw-{margin}", "y": f"h-th-{margin}",
    }
    for i in range(4):
        text = burn.record_timecode(i)
        literal = bottom_right(lambda s, t=text: s.filter("drawtext", text=t, expansion="none", **common))
        assert np.array_equal(burnt[i], literal[i]), text


def test_a_long_title_gets_smaller_rather_than_running_into_the_timecode() -> None:
    size = (320, 180)
    preset = EncodePreset.model_validate({"burn_in": True, "burn_in_size": 0.08})
    burn = burnin.BurnIn("c", "長い題名 " * 6, "", burnin.FONT, 24.0, "01:00:00:00", 0)
    frame = draw_frames(size, lambda s: burnin.draw(s, size, preset, burn, 0, 1))[0].mean(axis=2)
    no_title = burnin.BurnIn("c", "", "", burnin.FONT, 24.0, "01:00:00:00", 0)
    code = draw_frames(size, lambda s: burnin.draw(s, size, preset, no_title, 0, 1))[0].mean(axis=2)
    bottom = slice(size[1] * 3 // 4, None)
    title_columns = np.nonzero((np.abs(frame - code)[bottom] > 0).any(axis=0))[0]
    code_columns = np.nonzero((code[bottom] > 0).any(axis=0))[0]
    assert title_columns.max() < code_columns.min()  # the title (and its box) stops before the timecode
    assert title_columns.max() > size[0] // 3  # though it was not shrunk to nothing


def two_cut_production(root: Path, edit_extra: str = "") -> Production:
    production = make_production(root, size=(64, 48), frames=8)
    (root / "shots" / "sc010_c020").mkdir()
    (root / "shots" / "sc010_c020" / "shot.toml").write_text("[shot]\nframes = 5\n")
    edit = root / "shots" / "edit.toml"
    edit.write_text(edit.read_text().replace(f'cuts = ["{CUT}"]', f'cuts = ["sc010_c020", "{CUT}"]') + edit_extra)
    return production


def segment_keys(production: Production) -> list[str]:
    shot = load_shot(production, CUT)
    return [s.key for s in MoviePlan(shot, "screening", ["k"] * shot.frames).segments]


def test_every_burn_in_setting_enters_the_segment_key(tmp_path: Path) -> None:
    base = two_cut_production(tmp_path / "base")
    shot = load_shot(base, CUT)
    assert burnin.record_start(shot) == 48 + 5  # two seconds of slate at 24 fps, then the 5 frames before
    keys = segment_keys(base)
    font = tmp_path / "font.otf"
    font.write_bytes(burnin.FONT.read_bytes() + b"\0")
    changed = {
        "version": two_cut_production(tmp_path / "v", 'version = "v002"\n'),
        "start": two_cut_production(tmp_path / "tc", 'start_timecode = "10:00:00:00"\n'),
        "slate": two_cut_production(tmp_path / "s", "slate = 1.0\n"),
        "font": two_cut_production(tmp_path / "f", f'font = "{font}"\nroots = ["{tmp_path}"]\n'),
    }
    for what, production in changed.items():
        assert segment_keys(production) != keys, what
    layout = two_cut_production(tmp_path / "l")
    preset = layout.root / "templates" / "encode" / "screening.toml"
    preset.write_text(preset.read_text().replace("burn_in_band = 0.06", "burn_in_band = 0.2"))
    assert segment_keys(layout) != keys
    # The cut before grows: this cut's record timecode moves, so does its key.
    longer = two_cut_production(tmp_path / "g")
    (longer.root / "shots" / "sc010_c020" / "shot.toml").write_text("[shot]\nframes = 6\n")
    assert segment_keys(longer) != keys
    assert load_shot(changed["font"], CUT).edit.font == font.resolve()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('start_timecode = "1:00:00:00"\n', "edit.start_timecode"),
        ('start_timecode = "25:00:00:00"\n', "edit.start_timecode"),
        ('font = "nowhere.otf"\n', "edit.font: no such file"),
        ('version = "a\\nb"\n', "edit.version"),
    ],
)
def test_bad_burn_in_keys_are_one_line_spec_errors(tmp_path: Path, extra: str, message: str) -> None:
    production = two_cut_production(tmp_path / "p", extra)
    with pytest.raises(SpecError, match=message):
        load_shot(production, CUT)


def test_make_remakes_a_cut_whose_record_timecode_moved(tmp_path: Path) -> None:
    """A cut's movie burns in its record timecode: its make rule names render/<edit>.starts, which `compositor
    deps` rewrites when a cut before it changes length, and leaves alone when a spec changes otherwise."""
    from compositor.deps import dependency_file, record_starts_text  # noqa: PLC0415

    production = two_cut_production(tmp_path / "p")
    rules = dependency_file(production).splitlines()
    (second,) = [r for r in rules if r.startswith(f"render/{CUT}/{CUT}.mp4 ")]
    starts = f"render/{load_edit(production).edit.name}.starts"
    assert starts in second.split(":", 1)[1].split()
    assert "shots/sc010_c020/shot.toml" not in second.split(":", 1)[1]  # a spec edit elsewhere costs no check
    assert record_starts_text(production) == f"sc010_c020 48\n{CUT} 53\n"  # 2 s of slate, then 5 frames
    first = production.shot_path("sc010_c020")
    first.write_text(first.read_text() + "# a comment: no frame moves\n")
    assert record_starts_text(production) == f"sc010_c020 48\n{CUT} 53\n"
    first.write_text("[shot]\nframes = 7\n")
    assert record_starts_text(production) == f"sc010_c020 48\n{CUT} 55\n"
