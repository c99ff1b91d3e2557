"""Output formats: each encode preset's movie probed by the real ffprobe (codec, profile, pix_fmt, alpha, bit
depth), ProRes 4444 keeping the comp's alpha, comp frames as 16-bit PNG and OpenEXR (read back, keyed, deep
enough to reach a 10-bit master), EXR and 16-bit PNG/TIFF plates, and the presets' checks."""

from __future__ import annotations

import struct
import subprocess
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.core import io
from compositor.errors import SpecError
from compositor.spec import EncodePreset, Production, load_edit, load_shot
from compositor.steps.composite import CutRenderer, render_cut
from compositor.steps.encode import ffmpeg_exe, probe
from tests.conftest import ffprobe_streams, make_production, write_grid

CUT = "sc010_c010"
SIZE = (256, 128)  # DNxHR's smallest frame is 256x120

SHOT = """
[shot]
frames = 2

[background]
source = "plate"
plate = "plates/bg.png"
{background}

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 1"
position = [100, 50]

{extra}
"""


def _production(root: Path, background: str = "", extra: str = "", plate: np.ndarray | None = None) -> Production:
    make_production(root, {CUT: SHOT.format(background=background, extra=extra)}, size=SIZE)
    folder = root / "shots" / CUT
    (folder / "plates").mkdir(parents=True)
    if plate is None:
        plate = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        plate[:] = (40, 90, 160)  # BGR
    cv2.imwrite(str(folder / "plates" / "bg.png"), plate)
    write_grid(folder / "cels" / "A" / "A_0001.png", "RRRRRRRR\nRWWWWWWR\nRWhhhhWR\nRRRRRRRR\n" * 4)
    return Production(root)


def _ffprobe(path: Path) -> dict:
    return ffprobe_streams(path)["video"]


def _decode(path: Path, pix_fmt: str, size: tuple[int, int], channels: int, dtype: type) -> np.ndarray:
    """Every frame of a movie, decoded by the bundled ffmpeg to raw ``pix_fmt``: (N, H, W, channels)."""
    out = subprocess.run(
        # accurate conversion: swscale's default 4:2:2 10-bit → RGB path is off by 2 levels on its own
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-sws_flags", "accurate_rnd+full_chroma_int", "-f", "rawvideo",
         "-pix_fmt", pix_fmt, "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype=dtype).reshape(-1, size[1], size[0], channels)


def test_the_bundled_ffmpeg_has_every_presets_encoder(monkeypatch):
    monkeypatch.delenv("COMPOSITOR_FFMPEG", raising=False)
    listing = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=True).stdout
    encoders = {line.split()[1] for line in listing.splitlines() if len(line.split()) > 1 and line.startswith(" V")}
    assert {"libx264", "libx265", "prores_ks", "dnxhd"} <= encoders


# ------------------------------------------------------------------------------------------------------------
# Every preset, one render


PRESETS = {
    # preset: (suffix, codec, profile, pix_fmt as decoded, bits)
    "prores4444": (".mov", "prores", "4444", "yuv444p12le", 12),  # no alpha asked: no alpha plane
    "prores422hq": (".mov", "prores", "HQ", "yuv422p10le", 10),
    "dnxhr_hqx": (".mxf", "dnxhd", "DNXHR HQX", "yuv422p10le", 10),
    "hevc_review": (".mp4", "hevc", "Main", "yuv420p", 8),
    "review": (".mp4", "h264", "High", "yuv420p", 8),
}


@pytest.fixture(scope="module")
def every_preset(tmp_path_factory):
    shot = load_shot(_production(tmp_path_factory.mktemp("formats") / "prod"), CUT)
    result = render_cut(shot, presets=list(PRESETS), threads=1)
    return shot, result


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_writes_its_own_movie(every_preset, preset):
    shot, result = every_preset
    suffix, codec, profile, pix_fmt, bits = PRESETS[preset]
    movie = shot.movie(preset)
    assert movie in result.movies and movie.suffix == suffix and movie.name.startswith(f"{CUT}.{preset}")
    video = _ffprobe(movie)
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == (codec, profile, pix_fmt)
    assert int(video["nb_read_frames"]) == shot.frames
    assert int(video.get("bits_per_raw_sample") or (10 if "10le" in pix_fmt else 8)) == bits
    if codec == "hevc":
        assert video["codec_tag_string"] == "hvc1"


def test_presets_are_fresh_on_a_second_render(every_preset):
    """Every container keeps its movie's key (MXF, which has no comment tag, beside it): nothing is redone."""
    shot, _ = every_preset
    again = render_cut(shot, presets=list(PRESETS), threads=1)
    assert again.composited == [] and again.segments == 0
    assert shot.movie("dnxhr_hqx").with_name(shot.movie("dnxhr_hqx").name + ".key").is_file()


def test_the_movies_show_the_comp(every_preset):
    """Decoded back, each master is the comp frame within its codec's error (a wrong matrix or range is not)."""
    shot, _ = every_preset
    comp = io.read_rgb8(shot.paths.comp_frame(1)).astype(np.float64)
    for preset in ("prores4444", "prores422hq", "dnxhr_hqx"):
        frame = _decode(shot.movie(preset), "rgb24", SIZE, 3, np.uint8)[0].astype(np.float64)
        assert np.abs(frame - comp).mean() < 1.5, preset


# ------------------------------------------------------------------------------------------------------------
# Alpha


def test_prores4444_keeps_the_comp_alpha_when_the_cut_asks(tmp_path):
    plate = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)  # a fully transparent plate: the cels alone
    shot = load_shot(_production(tmp_path / "prod", extra="[output]\nalpha = true\n", plate=plate), CUT)
    render_cut(shot, presets=["prores4444", "review"], threads=1)
    comp = io.read_image(shot.paths.comp_frame(2))
    # the drawing's top-left pixel is at (100, 50): row 0 red, row 1 white, row 2 half-transparent red inside
    assert comp[0, 0, 3] == 0 and comp[50, 101, 3] == 1 and abs(comp[52, 102, 3] - 128 / 255) < 1e-6

    video = _ffprobe(shot.movie("prores4444"))
    assert video["pix_fmt"] == "yuva444p12le" and video["profile"] == "4444"
    rgba = _decode(shot.movie("prores4444"), "rgba64le", SIZE, 4, np.dtype("<u2"))
    alpha = rgba[1, :, :, 3] / 65535
    assert alpha[0, 0] == 0 and alpha[60, 200] == 0  # the transparent plate
    assert alpha[51, 101] > 0.999  # an opaque line of the drawing
    assert abs(alpha[52, 102] - 128 / 255) < 0.01  # the half-transparent pixels keep their coverage
    straight_red = rgba[1, 52, 103, :3] / 65535  # straight alpha: half-covered red is still red
    assert straight_red[0] > 0.95 and straight_red[1:].max() < 0.05
    assert _ffprobe(shot.movie("review"))["pix_fmt"] == "yuv420p"  # a preset without alpha flattens


def test_without_alpha_plates_stay_opaque(tmp_path):
    plate = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    shot = load_shot(_production(tmp_path / "prod", plate=plate), CUT)
    frame = CutRenderer(shot).frame(0)
    assert frame[:, :, 3].min() == 1.0


# ------------------------------------------------------------------------------------------------------------
# Frame formats


def _random_frame(rng: np.random.Generator, h: int = 9, w: int = 13) -> np.ndarray:
    alpha = rng.random((h, w, 1), dtype=np.float32)
    alpha[0, :] = 1.0
    alpha[1, :3] = 0.0
    return np.concatenate([rng.random((h, w, 3), dtype=np.float32) * alpha, alpha], axis=2)


def test_exr_round_trip(tmp_path):
    import OpenEXR

    frame = _random_frame(np.random.default_rng(3))
    path = tmp_path / "f.exr"
    io.write_frame(path, frame, "exr", alpha=True, key="abc123")
    assert io.read_frame_key(path) == "abc123"
    back = io.read_image(path)
    assert back.shape == frame.shape and back.dtype == np.float32
    assert np.abs(back - frame).max() < 2e-3  # half float, through linear light and back
    with OpenEXR.File(str(path), separate_channels=True) as f:
        channels = f.channels()
        assert sorted(channels) == ["A", "B", "G", "R"]
        assert all(c.pixels.dtype == np.float16 for c in channels.values())
        # linear light, premultiplied: sRGB 0.5 on an opaque pixel reads 0.214 in the file
    half = np.zeros((2, 2, 4), np.float32)
    half[..., :3], half[..., 3] = 0.5, 1.0
    io.write_frame(tmp_path / "grey.exr", half, "exr", alpha=False)
    with OpenEXR.File(str(tmp_path / "grey.exr"), separate_channels=True) as f:
        assert sorted(f.channels()) == ["B", "G", "R"]
        assert abs(float(f.channels()["G"].pixels[0, 0]) - 0.2140) < 1e-3


def test_png16_round_trip(tmp_path):
    frame = _random_frame(np.random.default_rng(4))
    path = tmp_path / "f.png"
    io.write_frame(path, frame, "png16", alpha=True, key="k16")
    assert io.read_frame_key(path) == "k16"
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (9, 13, 4)
    back = io.read_image(path)
    assert np.abs(back - frame).max() < 2e-5  # 16 bits; an 8-bit file would be off by up to 2e-3
    opaque = io.write_frame(path, frame, "png16", alpha=False)
    assert opaque is None and cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (9, 13, 3)


@pytest.mark.parametrize("suffix", [".exr", ".tif", ".png"])
def test_deep_plates_and_cels_read(tmp_path, suffix):
    """EXR (through the OpenEXR library; OpenCV's wheel has no OpenEXR) and 16-bit TIFF/PNG read as the frame
    they hold, with their depth."""
    ramp = np.linspace(0.2, 0.3, 64, dtype=np.float32)
    frame = np.ones((4, 64, 4), np.float32)
    frame[:, :, :3] = ramp[None, :, None]
    path = tmp_path / f"plate{suffix}"
    if suffix == ".exr":
        io.write_frame(path, frame, "exr")
    else:
        cv2.imwrite(str(path), cv2.cvtColor(io.to_uint16_rgb(frame), cv2.COLOR_RGB2BGR))
    back = io.read_image(path)
    assert np.abs(back - frame).max() < 1e-3
    assert len(np.unique(back[0, :, 0])) > 26  # more levels than 8 bits have over this ramp
    assert io.image_size(path) == (64, 4)


def test_a_damaged_exr_is_one_line(tmp_path):
    frame = _random_frame(np.random.default_rng(5))
    io.write_frame(tmp_path / "f.exr", frame, "exr")
    data = (tmp_path / "f.exr").read_bytes()
    (tmp_path / "cut.exr").write_bytes(data[: len(data) // 2])
    with pytest.raises(io.CorruptInputError, match=r"cut\.exr: cannot decode the image \(OpenEXR"):
        io.read_image(tmp_path / "cut.exr")


def test_comp_frames_in_exr_and_png16_feed_a_10bit_master(tmp_path):
    """A smooth 16-bit plate: composited into 16-bit frames and fed to ProRes as 16-bit RGB, the master has more
    levels than 8 bits could give; the frames carry their keys (a second render is fresh), and changing the
    format replaces the old frames."""
    ramp = np.linspace(0.30, 0.36, SIZE[0])
    plate = np.empty((SIZE[1], SIZE[0], 3), np.uint16)
    plate[:] = (ramp * 65535 + 0.5).astype(np.uint16)[None, :, None]
    root = tmp_path / "prod"
    production = _production(root, extra='[output]\nframes = "png16"\n')
    cv2.imwrite(str(root / "shots" / CUT / "plates" / "bg.png"), plate)
    shot = load_shot(production, CUT)
    render_cut(shot, presets=["prores422hq"], threads=1)
    frame = shot.paths.comp_frame(1)
    raw = cv2.imread(str(frame), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and len(np.unique(raw[100, :, 1])) > 100  # 8 bits would give 16 levels
    assert np.abs(io.read_image(frame)[100, :, 1] - ramp).max() < 2e-5  # the plate's ramp, at 16 bits
    levels = _decode(shot.movie("prores422hq"), "rgb48le", SIZE, 3, np.dtype("<u2"))[0, 100, :, 1]
    assert len(np.unique(levels)) > 40  # through 10 bits to the master
    assert io.read_frame_key(frame) is not None
    assert render_cut(shot, presets=["prores422hq"], threads=1).composited == []

    (root / "shots" / CUT / "shot.toml").write_text(textwrap.dedent(SHOT.format(background="", extra='[output]\nframes = "exr"\n')))
    exr = load_shot(production, CUT)
    result = render_cut(exr, presets=["prores422hq"], threads=1)
    assert result.composited == [0, 1]
    assert sorted(p.name for p in exr.paths.comp_folder.glob(f"{CUT}.*")) == [f"{CUT}.000{n}.exr" for n in (1, 2)]
    assert io.read_frame_key(exr.paths.comp_frame(1)) == CutRenderer(exr).frame_key(0)
    assert probe(exr.movie("prores422hq"))["pix_fmt"] == "yuv422p10le"


def test_a_deep_cut_feeds_16_bits_to_the_encoder(tmp_path):
    """The same gradient drawn at 16 bits: a png16 cut's ProRes has the 10-bit levels, a png8 cut's does not."""
    levels = {}
    for frames in ("png8", "png16"):
        root = tmp_path / frames
        production = _production(root, extra=f'[output]\nframes = "{frames}"\n')
        grad = np.zeros((SIZE[1], SIZE[0], 4), np.uint16)
        grad[..., :3] = (np.linspace(0.30, 0.36, SIZE[0]) * 65535).astype(np.uint16)[None, :, None]
        grad[..., 3] = 65535
        cel = root / "shots" / CUT / "cels" / "A" / "A_0001.png"
        cv2.imwrite(str(cel), cv2.cvtColor(grad, cv2.COLOR_RGBA2BGRA))
        text = SHOT.format(background="", extra=f'[output]\nframes = "{frames}"\n').replace("[100, 50]", "[0, 0]")
        text = text.replace("frames = 2", "frames = 1").replace('"1 1"', '"1"')
        (root / "shots" / CUT / "shot.toml").write_text(textwrap.dedent(text))
        shot = load_shot(production, CUT)
        render_cut(shot, presets=["prores422hq"], threads=1)
        decoded = _decode(shot.movie("prores422hq"), "rgb48le", SIZE, 3, np.dtype("<u2"))
        levels[frames] = len(np.unique(decoded[0, 60, :, 1]))
    assert levels["png8"] <= 17 < 40 < levels["png16"]


@pytest.mark.parametrize("frames", ["png16", "exr"])
def test_a_deep_movie_made_while_rendering_equals_one_made_from_the_files(tmp_path, frames):
    """The encoder is fed each frame as its file reads back, so the movie does not depend on whether its frames
    were just composited or read from disk (a resumed render, `encode_cut`)."""
    from compositor.steps.encode import encode_cut

    shot = load_shot(_production(tmp_path / "prod", extra=f'[output]\nframes = "{frames}"\nalpha = true\n'), CUT)
    render_cut(shot, presets=["prores4444"], threads=1)
    movie = shot.movie("prores4444")
    made = movie.read_bytes()
    movie.unlink()
    for segment in shot.paths.segments("prores4444").iterdir():
        segment.unlink()
    assert encode_cut(shot, "prores4444") == movie
    assert movie.read_bytes() == made


# ------------------------------------------------------------------------------------------------------------
# The presets' own checks


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"codec": "prores_ks", "container": "mp4", "pix_fmt": "yuv422p10le"}, "container 'mp4' cannot hold prores_ks"),
        ({"codec": "prores_ks", "container": "mov", "pix_fmt": "yuv422p10le", "crf": 10}, "crf: x264/x265 settings"),
        ({"codec": "dnxhd", "container": "mxf", "pix_fmt": "yuv422p10le"}, "needs profile"),
        ({"codec": "dnxhd", "container": "mxf", "profile": "dnxhr_hqx", "pix_fmt": "yuv422p"}, "dnxhr_hqx needs pix_fmt"),
        ({"codec": "prores_ks", "container": "mov", "profile": "hq", "pix_fmt": "yuv444p10le"}, "ProRes hq needs"),
        ({"pix_fmt": "yuva444p10le"}, "needs codec"),
        ({"profile": "high"}, "profile: not for libx264"),
    ],
)
def test_preset_checks(keys, message):
    with pytest.raises(ValueError, match=message):
        EncodePreset(**keys)


def test_the_screening_cut_stays_h264(tmp_path):
    root = tmp_path / "prod"
    make_production(root, {CUT: "[shot]\nframes = 1\n"}, size=SIZE)
    text = (root / "shots" / "edit.toml").read_text().replace("[edit]\n", '[edit]\nencode = "prores422hq"\n')
    (root / "shots" / "edit.toml").write_text(text)
    with pytest.raises(SpecError, match=r"edit\.encode: the screening cut joins H\.264 mp4 movies"):
        load_edit(Production(root))


def test_dnxhr_refuses_small_frames(tmp_path):
    root = tmp_path / "prod"
    make_production(root, {CUT: SHOT.format(background="", extra="")}, size=(64, 48))
    (root / "shots" / CUT / "plates").mkdir(parents=True)
    cv2.imwrite(str(root / "shots" / CUT / "plates" / "bg.png"), np.zeros((48, 64, 3), np.uint8))
    write_grid(root / "shots" / CUT / "cels" / "A" / "A_0001.png", "RR")
    shot = load_shot(Production(root), CUT)
    with pytest.raises(SpecError, match=r"templates/encode/dnxhr_hqx\.toml: codec: DNxHR needs frames of at least 256x120"):
        render_cut(shot, presets=["dnxhr_hqx"], threads=1)
    text = (root / "shots" / CUT / "shot.toml").read_text()
    (root / "shots" / CUT / "shot.toml").write_text('encode = "dnxhr_hqx"\n' + text)
    with pytest.raises(SpecError, match=r"shot\.toml: encode: 'dnxhr_hqx' is DNxHR, which needs frames of at least 256x120"):
        load_shot(Production(root), CUT)  # and so `compositor validate` says it before a render


def test_sample_bits_reads_the_depth_a_file_stores(tmp_path: Path) -> None:
    """What `compositor deflicker` keeps: 16 for 16-bit PNG and TIFF (grey or colour), 8 for 8-bit, palette and
    JPEG files (and for a file that is not there: the decoder reports that)."""
    from PIL import Image

    from compositor.core.io import sample_bits

    deep = (np.arange(8 * 8 * 3).reshape(8, 8, 3) * 300).astype(np.uint16)
    files = {
        "rgb16.png": deep, "grey16.png": deep[:, :, 0], "rgb16.tif": deep, "grey16.tif": deep[:, :, 0],
        "rgb8.png": (deep >> 8).astype(np.uint8), "rgb8.tif": (deep >> 8).astype(np.uint8),
        "rgb8.jpg": (deep >> 8).astype(np.uint8),
    }
    for name, pixels in files.items():
        assert cv2.imwrite(str(tmp_path / name), pixels)
    Image.fromarray((deep[:, :, 0] >> 8).astype(np.uint8)).convert("P").save(tmp_path / "palette.png")
    got = {name: sample_bits(tmp_path / name) for name in [*files, "palette.png", "missing.png"]}
    assert got == {
        "rgb16.png": 16, "grey16.png": 16, "rgb16.tif": 16, "grey16.tif": 16,
        "rgb8.png": 8, "rgb8.tif": 8, "rgb8.jpg": 8, "palette.png": 8, "missing.png": 8,
    }


def test_a_keyed_tiff_decodes_to_the_same_pixels_in_either_byte_order(tmp_path):
    # A 2x1 8-bit grey TIFF, uncompressed, written by hand in big-endian order (OpenCV writes little-endian).
    entries = [(256, 3, 1, 2 << 16), (257, 3, 1, 1 << 16), (258, 3, 1, 8 << 16), (259, 3, 1, 1 << 16),
               (262, 3, 1, 1 << 16), (273, 4, 1, 8), (277, 3, 1, 1 << 16), (278, 3, 1, 1 << 16), (279, 4, 1, 2)]  # fmt: skip
    ifd = struct.pack(">H", len(entries)) + b"".join(struct.pack(">HHII", *e) for e in entries) + b"\0\0\0\0"
    big_endian = b"MM\0\x2a" + struct.pack(">I", 10) + bytes([17, 230]) + ifd
    assert cv2.imdecode(np.frombuffer(big_endian, np.uint8), cv2.IMREAD_UNCHANGED).tolist() == [[17, 230]]
    keyed = tmp_path / "big.tif"
    keyed.write_bytes(io._with_tiff_key(big_endian, "abc"))
    assert io.read_frame_key(keyed) == "abc"
    assert cv2.imread(str(keyed), cv2.IMREAD_UNCHANGED).tolist() == [[17, 230]]
    frame = np.random.default_rng(3).random((5, 7, 4)).astype(np.float32)
    for depth in (8, 16):
        plain, tagged = tmp_path / f"plain{depth}.tiff", tmp_path / f"tagged{depth}.tiff"
        io.write_image(plain, frame, alpha=True, depth=depth)
        io.write_image(tagged, frame, alpha=True, depth=depth, key="k")
        assert (io.read_frame_key(plain), io.read_frame_key(tagged)) == (None, "k")
        assert np.array_equal(cv2.imread(str(plain), -1), cv2.imread(str(tagged), -1))
    assert io.read_frame_key(tmp_path / "missing.tif") is None
    (tmp_path / "cut.tif").write_bytes(big_endian[:12])  # cut short: no key, no error
    assert io.read_frame_key(tmp_path / "cut.tif") is None
