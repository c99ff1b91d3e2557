"""Image and sequence I/O: the only module that knows file formats and channel orders.

In memory a frame is ``float32`` premultiplied RGBA of shape ``(H, W, 4)`` with values in ``[0, 1]``. Files
are written under a temporary name and renamed when complete, so nothing half-written is ever taken for done.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import stat
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from compositor.core.kernels import premultiply_rgba8, to_rgb8
from compositor.core.png import SIGNATURE as PNG_SIGNATURE
from compositor.core.png import Damaged as PngDamaged
from compositor.core.png import damage as png_damage
from compositor.core.png import decode_png
from compositor.errors import CorruptInputError, MissingInputError, OutputError, UnreadableInputError

# A corrupt file is reported once, as a CorruptInputError naming it; OpenCV's own log lines would only add
# noise.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mxf"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp"}

try:  # fpng: a fast PNG writer (issue 14); its extension module alone, without the package's lazy imports
    from fpng import fpng_ext as _fpng

    _fpng.init()
except ImportError:  # pragma: no cover - exercised where fpng is not installed
    _fpng = None

# PNG settings chosen by measurement (bench/bench_cut.py prints the table): with no explicit level OpenCV
# keeps libpng's default level but uses zlib's RLE strategy, and with the SUB row filter that writes a
# 1920x1080 comp frame about twice as fast as an explicit level 1 (which switches to the default strategy) for
# the same size. Comp frames are intermediates; an explicit level only made them slower.
PNG_PARAMS = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10
    PNG_PARAMS += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]


# ------------------------------------------------------------------------------------------------------------
# The pixel budget: a header is read, and its claim checked, before any pixel is decoded

MAX_IMAGE_EDGE = 16384
MAX_IMAGE_PIXELS = 2**28
"""The largest image decoded: 16384 px a side and 2^28 pixels (16384², 4 GiB as float32 RGBA), the largest
canvas a spec allows (``spec.models.MAX_EDGE``), so every background the pipeline writes reads back. A header
that claims more is refused before a pixel is decoded: a corrupt or hostile file cannot make the decoder
allocate gigabytes (or trip OpenCV's own pixel-limit assertion). Formats whose header Pillow reads (JPEG,
TIFF, WebP, BMP) also meet Pillow's decompression-bomb limit (2 × ``PIL.Image.MAX_IMAGE_PIXELS``, about 179
Mpx); PNG and OpenEXR headers are read here."""

# Pillow warns from 89 Mpx; our own budget above decides, and says why in one line.
warnings.filterwarnings("ignore", message="Image size .* could be decompression bomb")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_HEADER_BYTES = 1 << 16
"""How much of a file is read to find a PNG or OpenEXR header (an EXR header is a few hundred bytes)."""


def _corrupt(path: Path | str, reason: str) -> CorruptInputError:
    """``<path>: <reason>``; the reason alone is kept for callers that name the file their own way."""
    return CorruptInputError(f"{path}: {reason}", reason=reason)


NOT_A_FILE = "a folder, not an image file"


def _check_regular(path: Path) -> None:
    """An image path that is not a file: missing, ``MissingInputError``; a folder named like a drawing
    (``cels/A/0003.png/``) or anything else that is not a regular file (a named pipe, which would block the
    read for ever), ``CorruptInputError`` with one reason, whichever reader meets it first."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MissingInputError(f"{path}: no such file") from None
    except OSError:
        return  # the read says why (permission, I/O), in its own words
    if stat.S_ISDIR(mode):
        raise _corrupt(path, NOT_A_FILE)
    if not stat.S_ISREG(mode):
        raise _corrupt(path, "not a regular file (a pipe or a device)")


def _undecodable(path: Path | str, why: str) -> CorruptInputError:
    return CorruptInputError(f"{path}: cannot decode the image ({why})", reason=why)


def _exr_size(head: bytes) -> tuple[int, int] | None:
    """``dataWindow`` of an OpenEXR header (its first part's): attributes are ``name\\0 type\\0 size value``."""
    pos = 8  # magic, version
    while pos < len(head):
        name_end = head.find(b"\0", pos)
        if name_end == pos or name_end < 0:
            return None  # end of the header (or cut short) with no dataWindow
        type_end = head.find(b"\0", name_end + 1)
        if type_end < 0 or type_end + 5 > len(head):
            return None
        (size,) = struct.unpack("<i", head[type_end + 1 : type_end + 5])
        value = head[type_end + 5 : type_end + 5 + size]
        if head[pos:name_end] == b"dataWindow" and len(value) == 16:
            x0, y0, x1, y1 = struct.unpack("<4i", value)
            return x1 - x0 + 1, y1 - y0 + 1
        if size < 0:
            return None
        pos = type_end + 5 + size
    return None


def _pillow_size(source: Path | io.BytesIO, path: Path | str) -> tuple[int, int] | None:
    """The size Pillow reads from a header (lazily: no pixel is decoded); None for what Pillow cannot read."""
    from PIL import Image  # noqa: PLC0415 (only for formats other than PNG and OpenEXR)

    try:
        with Image.open(source) as image:
            return image.size
    except Image.DecompressionBombError as e:
        raise _corrupt(path, f"the header claims an image too large to decode ({e})") from None
    except Exception:  # noqa: BLE001 (an unreadable header: the decoder has the last word on it)
        return None


def _claimed_size(head: bytes, source: Path | io.BytesIO, path: Path | str) -> tuple[int, int] | None:
    if head.startswith(_PNG_SIGNATURE):
        if len(head) < 24 or head[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if head.startswith(_EXR_MAGIC):
        return _exr_size(head)
    return _pillow_size(source, path)


def _check_budget(size: tuple[int, int] | None, path: Path | str) -> tuple[int, int] | None:
    if size is None:
        return None
    width, height = size
    if max(width, height) > MAX_IMAGE_EDGE or width * height > MAX_IMAGE_PIXELS:
        raise _corrupt(
            path,
            f"the header claims {width}x{height} pixels, over the budget of {MAX_IMAGE_EDGE} px a side and "
            f"{MAX_IMAGE_PIXELS} pixels",
        )
    return size


def image_size(path: Path | str) -> tuple[int, int] | None:
    """The ``(width, height)`` an image file's header claims, read without decoding a pixel.

    None when no header we read is recognised (the decoder then decides). Raises ``MissingInputError`` for an
    absent file and ``CorruptInputError`` when the claim is over the budget (``MAX_IMAGE_EDGE``,
    ``MAX_IMAGE_PIXELS``).
    """
    path = Path(path)
    _check_regular(path)
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
    except FileNotFoundError:
        raise MissingInputError(f"{path}: no such file") from None
    except OSError as e:  # permission, an I/O error: in the words of the read that follows (one line, not two)
        raise read_error(path, e) from None
    return _check_budget(_claimed_size(head, path, path), path)


def _not_decoded(path: Path) -> str:
    """Why a file did not decode: a format compositor does not read (a Targa, a Photoshop file), said as such
    rather than "corrupt"; else corrupt or not an image."""
    suffix = path.suffix.lower()
    if suffix and suffix not in IMAGE_SUFFIXES:
        readable = ", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
        return f"a {suffix} file: compositor reads {readable}; convert it"
    return "corrupt or not an image"


def _decode(data: np.ndarray | None, path: Path) -> np.ndarray:
    if data is None:
        raise _undecodable(path, _not_decoded(path))
    if data.dtype == np.uint8 and data.ndim == 3 and data.shape[2] in (3, 4):
        # The common case, in one fused pass (the same float32 operations as the general path below).
        return premultiply_rgba8(
            cv2.cvtColor(data, cv2.COLOR_BGRA2RGBA if data.shape[2] == 4 else cv2.COLOR_BGR2RGBA)
        )
    if data.dtype == np.uint8:
        scale = 1 / 255
    elif data.dtype == np.uint16:
        scale = 1 / 65535
    else:
        scale = 1.0
    img = data.astype(np.float32) * np.float32(scale)
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels == 1:
        rgb, alpha = np.repeat(img, 3, axis=2), np.ones(img.shape[:2] + (1,), np.float32)
    elif channels == 2:
        rgb, alpha = np.repeat(img[:, :, :1], 3, axis=2), img[:, :, 1:2]
    elif channels == 3:
        rgb, alpha = img[:, :, ::-1], np.ones(img.shape[:2] + (1,), np.float32)
    else:
        rgb, alpha = img[:, :, 2::-1], img[:, :, 3:4]
    return np.ascontiguousarray(np.concatenate([rgb * alpha, alpha], axis=2), dtype=np.float32)


def _read_raw(path: Path) -> np.ndarray | None:
    """The file's pixels as OpenCV decodes them (None when it cannot), once its header passed the budget.

    OpenEXR files (which OpenCV's wheels cannot read) are decoded by the OpenEXR library into what OpenCV would
    give for a float image: straight BGR(A) ``float32``, here sRGB-encoded (see `decode_exr`)."""
    _check_regular(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise read_error(path, e) from e
    if not data:
        return None
    _check_budget(_claimed_size(data[:_HEADER_BYTES], io.BytesIO(data), path), path)
    if data.startswith(_EXR_MAGIC):
        return decode_exr(data, path)
    try:
        pixels = decode_png(data)  # the common PNG, faster (core/png.py: OpenCV's very array, or None)
    except PngDamaged as e:
        raise _undecodable(path, str(e)) from None
    if pixels is not None:
        return pixels
    if data.startswith(PNG_SIGNATURE) and (why := png_damage(data)) is not None:
        raise _undecodable(path, why)  # before OpenCV, whose libpng would print a second line on stderr
    with _decoding(path):
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is not None and _libtiff_premultiplied(data, pixels):
        pixels = _unpremultiply8(pixels)
    # IMREAD_UNCHANGED ignores the EXIF orientation of a JPEG or WebP that every viewer applies: a phone's
    # photo of a drawing would come out on its side.
    if pixels is None or not _oriented_format(data):
        return pixels
    return orient(pixels, _orientation_of(io.BytesIO(data)))


# ------------------------------------------------------------------------------------------------------------
# 8-bit TIFF with alpha: OpenCV reads it through libtiff's RGBA interface, which premultiplies


def _tiff_alpha_kind(source: Path | io.BytesIO) -> int:
    """A TIFF's ExtraSamples (0 unspecified, 1 associated alpha, 2 unassociated alpha); 0 when it has none."""
    from PIL import Image  # noqa: PLC0415 (only for TIFF files)

    try:
        with Image.open(source) as image:
            extra = image.tag_v2.get(338, ()) if hasattr(image, "tag_v2") else ()
    except Exception:  # noqa: BLE001 (an unreadable header: the decoder has said what it could)
        return 0
    value = extra[0] if isinstance(extra, tuple) and extra else extra
    return value if value in (1, 2) else 0


def _libtiff_premultiplied(data: bytes, pixels: np.ndarray) -> bool:
    """Whether OpenCV's 8-bit RGBA array of a TIFF holds premultiplied colour: libtiff's RGBA interface, which
    OpenCV reads 8-bit TIFFs through, premultiplies unassociated alpha and keeps associated alpha as stored, so a
    drawing's soft edge (white at 12% alpha) came out grey at 12% and was premultiplied again (a dark halo)."""
    if data[:4] not in (b"II*\0", b"MM\0*") or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 4:
        return False
    return _tiff_alpha_kind(io.BytesIO(data)) != 0


def _unpremultiply8(pixels: np.ndarray) -> np.ndarray:
    """Premultiplied 8-bit BGRA ``(H, W, 4)`` → straight, rounded (what a straight file would hold, within the
    rounding that premultiplying again removes)."""
    alpha = pixels[:, :, 3:4].astype(np.uint32)
    colour = pixels[:, :, :3].astype(np.uint32)
    straight = np.minimum((colour * 255 + alpha // 2) // np.maximum(alpha, 1), 255)
    out = pixels.copy()
    out[:, :, :3] = np.where(alpha > 0, straight, 0).astype(np.uint8)
    return out


# ------------------------------------------------------------------------------------------------------------
# EXIF orientation: a photographed drawing or plate (JPEG, TIFF, WebP) is laid as every viewer shows it


def _oriented_format(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a JPEG or a WebP, whose EXIF orientation OpenCV leaves to us (a
    TIFF's it applies itself, through libtiff; PNG and OpenEXR are read as stored)."""
    return head.startswith(b"\xff\xd8") or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _orientation_of(source: Path | io.BytesIO) -> int:
    """The EXIF orientation tag (1 to 8) of an image's header; 1 when it has none, or one outside 1-8."""
    from PIL import Image  # noqa: PLC0415 (only for formats other than PNG and OpenEXR)

    try:
        with Image.open(source) as image:
            value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 (an unreadable header: no orientation to apply)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def exif_orientation(path: Path | str) -> int:
    """The EXIF orientation (1 to 8) ``read_image`` applies to a JPEG or WebP ``path``; 1 for other formats and
    for files without the tag. Part of the key of what shows the image, as it changes its pixels."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return 1  # the reader reports it
    return _orientation_of(path) if _oriented_format(head) else 1


def decoding_note(path: Path | str) -> str:
    """What `read_image` does to ``path``'s stored pixels beyond decoding them, as text for the keys of what
    shows it (empty for most files): its EXIF orientation applied, its 8-bit TIFF alpha unpremultiplied. Frames
    made before the reader did so are made again. Read once per version of the file (its size, time, inode),
    as `file_digest` hashes it: it is asked for every frame a drawing shows on."""
    try:
        st = os.stat(path)
    except OSError:
        return ""  # the reader says why
    return _decoding_note(str(path), st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=4096)
def _decoding_note(name: str, size: int, mtime_ns: int, inode: int) -> str:
    path = Path(name)
    notes = []
    if (orientation := exif_orientation(path)) != 1:
        notes.append(f"@exif{orientation}")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        head = b""
    if head in (b"II*\0", b"MM\0*") and _tiff_alpha_kind(path) != 0:
        notes.append("@straight")
    return "".join(notes)


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``(H, W, ...)`` pixels as stored → as displayed under EXIF ``orientation`` (2 mirrored, 3 upside down,
    4 flipped, 5 transposed, 6 turned a quarter clockwise, 7 transversed, 8 a quarter anticlockwise)."""
    if orientation in (5, 6, 7, 8):
        pixels = np.swapaxes(pixels, 0, 1)  # 5: the transpose; the others from it
    if orientation in (2, 3, 6, 7):
        pixels = pixels[:, ::-1]
    if orientation in (3, 4, 7, 8):
        pixels = pixels[::-1]
    return pixels if orientation == 1 else np.ascontiguousarray(pixels)


# ------------------------------------------------------------------------------------------------------------
# OpenEXR (the ASWF's OpenEXR library): linear light, premultiplied, as every EXR reader expects

EXR_KEY = "compositor-key"
"""The EXR header attribute (a string) under which a comp frame carries the key of what made it."""


def _openexr():  # noqa: ANN202 (the OpenEXR module)
    try:
        import OpenEXR  # noqa: PLC0415 (only for EXR files)
    except ImportError:
        from compositor.errors import BackendMissingError  # noqa: PLC0415

        raise BackendMissingError("OpenEXR is not installed: pip install OpenEXR (reads and writes .exr)") from None
    return OpenEXR


def decode_exr(data: bytes, path: Path | str) -> np.ndarray:
    """An OpenEXR file's bytes → straight BGR(A) ``float32`` in ``[0, 1]``, sRGB-encoded: the file's premultiplied
    linear RGB(A) (or Y, luminance) unpremultiplied and encoded with the sRGB curve, values outside [0, 1]
    clipped (the compositor's range). A file that does not decode is a `CorruptInputError` naming it."""
    from compositor.core.colour import linear_to_srgb  # noqa: PLC0415

    exr = _openexr()
    try:
        with exr.File(io.BytesIO(data), separate_channels=True) as f:
            channels = {name: np.asarray(ch.pixels, dtype=np.float32) for name, ch in f.channels().items()}
    except Exception as e:  # noqa: BLE001 (OpenEXR raises plain exceptions for damaged files)
        raise _undecodable(path, f"OpenEXR: {' '.join(str(e).split()) or type(e).__name__}") from None
    if all(c in channels for c in "RGB"):
        rgb = np.stack([channels["R"], channels["G"], channels["B"]], axis=2)
    elif "Y" in channels:
        rgb = np.repeat(channels["Y"][:, :, None], 3, axis=2)
    else:
        raise _undecodable(path, f"OpenEXR: no R, G, B or Y channel (has {', '.join(sorted(channels)) or 'none'})")
    rgb = np.nan_to_num(rgb, nan=0.0, posinf=1.0, neginf=0.0)
    alpha = np.clip(np.nan_to_num(channels["A"], nan=0.0), 0, 1)[:, :, None] if "A" in channels else None
    if alpha is not None:
        rgb = np.where(alpha > 0, rgb / np.maximum(alpha, np.float32(1e-8)), 0)
    straight = np.clip(linear_to_srgb(np.clip(rgb, 0, 1)), 0, 1)
    bgr = straight[:, :, ::-1]
    return np.ascontiguousarray(np.concatenate([bgr, alpha], axis=2) if alpha is not None else bgr, np.float32)


def encode_exr(frame: np.ndarray, alpha: bool = True, key: str | None = None) -> bytes:
    """Premultiplied sRGB float RGBA ``(H, W, 4)`` → OpenEXR bytes: half float, ZIP-compressed, premultiplied
    linear RGB (and A with ``alpha``; without, the frame is flattened over black), ``key`` in the header."""
    from compositor.core.colour import to_linear  # noqa: PLC0415

    exr = _openexr()
    frame = np.ascontiguousarray(frame, dtype=np.float32)
    if not alpha:
        frame = frame.copy()
        frame[:, :, 3] = 1.0  # over black: premultiplied colour is already what black shows through
    linear = to_linear(np.clip(frame, 0, 1))
    pixels = np.ascontiguousarray(linear if alpha else linear[:, :, :3], dtype=np.float16)
    header: dict[str, object] = {"compression": exr.ZIP_COMPRESSION, "type": exr.scanlineimage}
    if key is not None:
        header[EXR_KEY] = key
    out = io.BytesIO()
    with exr.File(header, {"RGBA" if alpha else "RGB": pixels}) as f:
        f.write(out)
    return out.getvalue()


def _exr_attribute(head: bytes, wanted: bytes) -> bytes | None:
    """The value of header attribute ``wanted`` in an OpenEXR file's first bytes (None: absent)."""
    pos = 8
    while pos < len(head):
        name_end = head.find(b"\0", pos)
        if name_end == pos or name_end < 0:
            return None
        type_end = head.find(b"\0", name_end + 1)
        if type_end < 0 or type_end + 5 > len(head):
            return None
        (size,) = struct.unpack("<i", head[type_end + 1 : type_end + 5])
        if size < 0:
            return None
        if head[pos:name_end] == wanted:
            return head[type_end + 5 : type_end + 5 + size]
        pos = type_end + 5 + size
    return None


def read_frame_key(path: Path | str) -> str | None:
    """The key a frame written by `write_frame` (or `write_image`) carries: a PNG's ``tEXt`` chunk, a TIFF's
    ``ImageDescription``, an EXR's header attribute; None when there is none (no file, no key, another format)."""
    if Path(path).suffix.lower() in TIFF_SUFFIXES:
        return read_tiff_key(path)
    if Path(path).suffix.lower() != ".exr":
        return read_png_key(path)
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
    except OSError:
        return None
    if not head.startswith(_EXR_MAGIC):
        return None
    value = _exr_attribute(head, EXR_KEY.encode())
    return value.decode("ascii", errors="replace") if value is not None else None


_PNG_END = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
"""The 12 bytes a whole PNG ends with: its IEND chunk."""


def frame_whole(path: Path | str) -> bool:
    """Whether a frame file that carries a key (`read_frame_key`) is there whole: a PNG ends with its IEND
    chunk (its last 12 bytes read), any other decodes. A frame cut short (copied halfway, written to a disk
    that filled, truncated by hand) still carries the key at its front: a run that trusted the key alone kept
    a frame that does not decode."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size < len(_PNG_END):
                    return False
                f.seek(-len(_PNG_END), os.SEEK_END)
                return f.read() == _PNG_END
        except OSError:
            return False
    try:
        return decodes(path)
    except (CorruptInputError, UnreadableInputError):
        return False


def _cv_reason(error: cv2.error) -> str:
    """OpenCV's error in a few words (its message runs over lines and names its own source files)."""
    reason = str(getattr(error, "err", "") or "").strip() or (str(error).strip().splitlines() or ["error"])[0]
    return " ".join(reason.split())


@contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Any OpenCV error while decoding ``path`` becomes a one-line ``CorruptInputError`` naming it."""
    try:
        yield
    except cv2.error as e:
        raise _undecodable(path, f"OpenCV: {_cv_reason(e)}") from None


def read_image(path: Path | str) -> np.ndarray:
    """Read an image file as premultiplied float32 RGBA, shape ``(H, W, 4)``.

    Raises ``MissingInputError`` if the file is absent and ``CorruptInputError`` if it cannot be decoded.
    """
    path = Path(path)
    data = _read_raw(path)
    with _decoding(path):
        return _decode(data, path)


def sample_bits(path: Path | str) -> int:
    """Bits a sample the image file stores, from its header: a PNG's bit depth, 16 for OpenEXR (half or float),
    16 for a 16-bit or float TIFF; 8 for anything else or a header that does not say (a palette or 1-bit PNG
    stores 8 or fewer)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return 8
    if head.startswith(_PNG_SIGNATURE) and len(head) >= 26 and head[12:16] == b"IHDR":
        return 16 if head[24] == 16 and head[25] != 3 else 8
    if head.startswith(_EXR_MAGIC):
        return 16
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        from PIL import Image  # noqa: PLC0415 (TIFF only)

        try:
            with Image.open(path) as image:
                bits = image.tag_v2.get(258, (8,))  # BitsPerSample: Pillow opens 16-bit RGB as 8-bit "RGB"
                return 16 if max(bits if isinstance(bits, tuple) else (bits,)) > 8 else 8
        except Exception:  # noqa: BLE001 (the decoder has the last word on an unreadable header)
            return 8
    return 8


def decodes(path: Path | str) -> bool:
    """Whether an image file decodes, as `read_image` would decode it (the pixels are not kept)."""
    return _read_raw(Path(path)) is not None


def undecodable(where: str, name: str, reason: str | None = None) -> CorruptInputError:
    """The one line for an input image that does not decode: ``"<where>: cannot decode <name> (<reason>)"``
    (``where``: the spec file and key; ``name``: the image as the production names it; ``reason``: why, when
    known, e.g. a header over the pixel budget; else "corrupt or not an image"). Validation and rendering say
    it in the same words."""
    return CorruptInputError(f"{where}: cannot decode {name} ({reason or 'corrupt or not an image'})", reason)


def decode_problem(path: Path | str) -> CorruptInputError | None:
    """Why ``path`` does not decode as `read_image` would decode it (None when it does; the pixels are not
    kept)."""
    try:
        if decodes(path):
            return None
        reason = _not_decoded(Path(path))
        return CorruptInputError(f"{path}: cannot decode the image ({reason})", reason)
    except CorruptInputError as e:
        return e


def read_input_image(path: Path, where: str, name: str) -> np.ndarray:
    """`read_image`, a file that does not decode being `undecodable` (``where``, ``name``)."""
    try:
        return read_image(path)
    except CorruptInputError as e:
        raise undecodable(where, name, e.reason) from None


def check_input_image(path: Path, where: str, name: str) -> None:
    """Raise what `read_input_image` would for ``path``, keeping nothing."""
    problem = decode_problem(path)
    if problem is not None:
        raise undecodable(where, name, problem.reason)


def read_rgba8(path: Path | str) -> np.ndarray | None:
    """Read an 8-bit image as it is stored: straight (unassociated) RGBA ``uint8``, shape ``(H, W, 4)``.

    A quarter of the memory of ``read_image`` and no arithmetic: the compositor keeps drawings like this and
    premultiplies them pixel by pixel as it lays them (``kernels.blend_region``), with the same result.
    Returns None for a file deeper than 8 bits (read it with ``read_image``). Errors as ``read_image``.
    """
    path = Path(path)
    data = _read_raw(path)
    if data is None:
        raise _undecodable(path, _not_decoded(path))
    if data.dtype != np.uint8:
        return None
    with _decoding(path):
        if data.ndim == 2 or data.shape[2] == 1:
            return cv2.cvtColor(data, cv2.COLOR_GRAY2RGBA)
        if data.shape[2] == 2:
            out = cv2.cvtColor(np.ascontiguousarray(data[:, :, 0]), cv2.COLOR_GRAY2RGBA)
            out[:, :, 3] = data[:, :, 1]
            return out
        return cv2.cvtColor(data, cv2.COLOR_BGRA2RGBA if data.shape[2] == 4 else cv2.COLOR_BGR2RGBA)


def read_rgb8(path: Path | str) -> np.ndarray:
    """Read an image as opaque ``uint8`` RGB ``(H, W, 3)``, as ``to_uint8_rgb`` made it (e.g. a comp
    frame)."""
    path = Path(path)
    data = _read_raw(path)
    with _decoding(path):
        if data is None or data.dtype != np.uint8 or data.ndim != 3 or data.shape[2] != 3:
            return to_uint8_rgb(_decode(data, path))
        return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


def to_uint8_rgb(frame: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA ``(H, W, 4)`` float → opaque ``uint8`` RGB ``(H, W, 3)`` (as if over black).

    Each channel is ``floor(255 * clip(c, 0, 1) + 0.5)``; one fused pass (``kernels.to_rgb8``).
    """
    return to_rgb8(np.ascontiguousarray(frame, dtype=np.float32))


def to_uint8_rgba(frame: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA float → straight ``uint8`` RGBA, as PNG stores it."""
    alpha = frame[:, :, 3:4]
    rgb = np.where(alpha > 0, frame[:, :, :3] / np.maximum(alpha, 1e-8), 0)
    out = np.concatenate([rgb, alpha], axis=2)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


# ------------------------------------------------------------------------------------------------------------
# Writing: under a temporary name, renamed when complete; an OSError becomes one line that says what to do.

_WRITE_ADVICE = {
    errno.ENOSPC: "free some space on that disk, then run again",
    errno.EDQUOT: "the disk quota is used up: free some space, then run again",
    errno.EACCES: "check the permissions of the folder, or render somewhere you may write",
    errno.EPERM: "check the permissions of the folder, or render somewhere you may write",
    errno.EROFS: "the file system is mounted read-only: render on a writable one",
    errno.EFBIG: "the file is larger than this system lets a process write (see `ulimit -f`)",
    errno.EISDIR: "a folder is in the way: move it away, or choose another path",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.EIO: "the disk reported an input/output error: check it",
}

_READ_ADVICE = {
    errno.EACCES: "check the file's permissions",
    errno.EPERM: "check the file's permissions",
    errno.EIO: "the disk reported an input/output error: check it",
    errno.EISDIR: "it is a folder, not a file",
}

ENVIRONMENT_ERRNOS = frozenset({*_WRITE_ADVICE, errno.ENOTDIR, errno.EEXIST})
"""The errors of the machine, not of compositor: a full disk, a permission, a read-only file system."""


def shown(path: Path | str) -> str:
    """``path`` as a message names it: relative to the current folder when inside it (a production's
    ``render/...`` seen from its root), else as it is."""
    path = Path(path)
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def _file_in_the_way(path: Path, including_itself: bool) -> Path | None:
    """The first of ``path``'s folders (from the top) that exists but is a file, or None."""
    candidates = [*reversed(path.parents), *([path] if including_itself else [])]
    for candidate in candidates:
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None


def explain(path: Path, error: OSError, folder: bool = False) -> str:
    """What went wrong writing ``path`` (a folder to make when ``folder``), and what to do about it."""
    code = error.errno
    in_the_way = _file_in_the_way(path, folder) if code in (errno.ENOTDIR, errno.EEXIST, errno.ENOENT) else None
    if in_the_way is not None:
        return f"{shown(in_the_way)} is a file, not a folder (move it away, or choose another path)"
    reason = error.strerror or type(error).__name__
    advice = _WRITE_ADVICE.get(code) if code is not None else None
    return f"{reason} ({advice})" if advice else reason


def output_error(path: Path | str, error: OSError, folder: bool = False) -> OutputError:
    """The one-line error for ``error``, met writing ``path`` (a folder to make when ``folder``):
    ``"<path>: cannot write: <what> (<what to do>)"``."""
    if isinstance(error, OutputError):
        return error
    path = Path(path)
    return OutputError(f"{shown(path)}: cannot write: {explain(path, error, folder)}", error, str(path))


def read_error(path: Path | str, error: OSError) -> UnreadableInputError:
    """The one-line error for ``error``, met reading ``path``."""
    if isinstance(error, UnreadableInputError):
        return error
    reason = error.strerror or type(error).__name__
    advice = _READ_ADVICE.get(error.errno) if error.errno is not None else None
    return UnreadableInputError(
        f"{shown(path)}: cannot read: {reason}" + (f" ({advice})" if advice else ""), error, str(path)
    )


def ensure_folder(folder: Path | str) -> Path:
    """Make ``folder`` (and its parents) if missing; `OutputError` naming it when that is not possible."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(folder, e, folder=True) from e
    return folder


def touch(path: Path | str) -> None:
    """Mark an output that was checked and found fresh as checked now (for make, which compares file times)."""
    try:
        os.utime(path)
    except OSError as e:
        raise output_error(path, e) from e


def remove_file(path: Path | str) -> None:
    """Remove an output file if it is there; `OutputError` naming it when that is not possible."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as e:
        raise output_error(path, e) from e


def copy_file_atomic(source: Path, path: Path, link: bool = False) -> None:
    """Put a copy of ``source`` at ``path`` (a hard link where ``link`` and the file system allow), under a
    temporary name renamed when complete. Errors as `write_bytes_atomic`."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        discard(tmp)
        try:
            if not link:
                raise OSError(errno.EXDEV, "no link asked for")
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise output_error(path, e) from e
    finally:
        # also when ``tmp`` and ``path`` were links to one file: then the rename did nothing (POSIX)
        discard(tmp)


def temp_name(path: Path) -> Path:
    """A sibling name for writing ``path`` before the rename (same folder, so the rename is atomic).

    ``.<stem>.part<pid><suffix>``: hidden, and carrying the writer's process id, so that what a killed process
    left is recognised and removed (`remove_stale_temp_files`) and what a running one is writing is not."""
    if not path.name:  # "/" or "" (that is "."), given as a file to write: a folder is in the way
        raise output_error(path, IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path)))
    return path.with_name(f".{path.stem}.part{os.getpid()}{path.suffix}")


def discard(path: Path) -> None:
    """Remove a temporary file or folder of this process, if it is there (never raises)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


_TEMP = re.compile(r"^\..*\.part(\d+)(\.[^.]*)?$")
_LEGACY_TEMP_FOLDER = re.compile(r"^\.cut-[A-Za-z0-9_]+$")
"""The screening cut's work folders as compositor 0.2 named them (``tempfile``'s, without the owner's pid)."""


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OverflowError:
        return False
    return True


def remove_own_temp_files(folder: Path) -> None:
    """Remove, anywhere under ``folder``, the temporary files and folders this process was writing (after an
    interruption: whatever a writer did not get to clean up). Best effort, never raises."""
    own = str(os.getpid())
    try:
        found = [p for p in folder.rglob(".*") if (hit := _TEMP.match(p.name)) is not None and hit.group(1) == own]
    except OSError:
        return
    for path in found:
        discard(path)


def remove_stale_temp_files(folder: Path) -> None:
    """Remove the temporary files and folders (see `temp_name`) that processes no longer running left in
    ``folder``: what a killed or crashed run was writing. Best effort: what cannot be removed stays."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for path in entries:
        hit = _TEMP.match(path.name)
        if hit is not None:
            if _alive(int(hit.group(1))):
                continue
        elif not (_LEGACY_TEMP_FOLDER.match(path.name) and path.is_dir()):
            continue
        discard(path)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name and rename it when complete: ``path`` is either
    absent, as it was, or whole. A failure to write (disk full, permissions) is an `OutputError` naming
    ``path``, and leaves nothing behind."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        discard(tmp)
        raise output_error(path, e) from e
    except BaseException:
        discard(tmp)
        raise


STORED_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 0]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):
    STORED_PNG_PARAMS += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
"""PNG without compression: for intermediates read once (a 1280x720 frame is 2.8 MB instead of ~1.3 MB, and
writes and reads several times faster)."""


PNG_KEY = b"compositor-key"
"""The PNG text keyword under which a frame carries the key of what made it."""


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _with_key(png: bytes, key: str) -> bytes:
    """``png`` with a ``tEXt`` chunk holding ``key`` right after its header (any PNG reader skips it)."""
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:end_of_header] + _png_chunk(b"tEXt", PNG_KEY + b"\0" + key.encode("ascii")) + png[end_of_header:]


def read_png_key(path: Path | str) -> str | None:
    """The key a PNG written by `write_image` carries, or None (no file, no key, not a PNG)."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    pos = 8
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    while pos + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[pos : pos + 8])
        if kind == b"IDAT":
            return None
        data = head[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and data.startswith(PNG_KEY + b"\0"):
            return data[len(PNG_KEY) + 1 :].decode("ascii", errors="replace")
        pos += 12 + length
    return None


TIFF_SUFFIXES = (".tif", ".tiff")
_TIFF_DESCRIPTION = 270  # ImageDescription, ASCII
_TIFF_ASCII = 2


def _with_tiff_key(tiff: bytes, key: str) -> bytes:
    """``tiff`` (a classic TIFF as OpenCV writes it) whose first image's ``ImageDescription`` is
    ``compositor-key=<key>``: the text and a copy of the first directory with that entry are appended, and the
    header points at the copy; every other offset still holds (nothing before the end moved). A BigTIFF, or
    bytes this does not read, come back as they are (no key: the frame is made again next time)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        return tiff
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return tiff
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    end = ifd + 2 + 12 * count
    if end + 4 > len(tiff):
        return tiff
    entries = [tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i] for i in range(count)]
    text = PNG_KEY + b"=" + key.encode("ascii") + b"\0"
    out = bytearray(tiff)
    out += b"\0" * (len(out) % 2)  # TIFF offsets are word-aligned
    text_at = len(out)
    out += text + b"\0" * (len(text) % 2)
    ours = struct.pack(order + "HHII", _TIFF_DESCRIPTION, _TIFF_ASCII, len(text), text_at)
    entries = sorted(
        [e for e in entries if struct.unpack(order + "H", e[:2])[0] != _TIFF_DESCRIPTION] + [ours],
        key=lambda e: struct.unpack(order + "H", e[:2])[0],
    )
    new_ifd = len(out)
    out += struct.pack(order + "H", len(entries)) + b"".join(entries) + tiff[end : end + 4]
    out[4:8] = struct.pack(order + "I", new_ifd)
    return bytes(out)


def read_tiff_key(path: Path | str) -> str | None:
    """The key a TIFF written by `write_image` carries (`_with_tiff_key`), or None (no file, no key, not a
    classic TIFF)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            order = {b"II": "<", b"MM": ">"}.get(head[:2])
            if order is None or len(head) < 8 or struct.unpack(order + "H", head[2:4])[0] != 42:
                return None
            f.seek(struct.unpack(order + "I", head[4:8])[0])
            (count,) = struct.unpack(order + "H", f.read(2) or b"\0\0")
            entries = f.read(12 * count)
            for i in range(len(entries) // 12):
                tag, kind, length, offset = struct.unpack(order + "HHII", entries[12 * i : 12 * i + 12])
                if tag == _TIFF_DESCRIPTION and kind == _TIFF_ASCII and length > len(PNG_KEY) + 1:
                    f.seek(offset)
                    text = f.read(min(length, 4096)).rstrip(b"\0")
                    prefix = PNG_KEY + b"="
                    return text[len(prefix) :].decode("ascii", errors="replace") if text.startswith(prefix) else None
    except (OSError, struct.error, ValueError):
        return None
    return None


def fast_png(pixels: np.ndarray) -> bytes | None:
    """``uint8`` RGB or RGBA ``(H, W, 3|4)`` (straight alpha) as PNG bytes by fpng, or None where fpng is not
    installed (or the array is another kind): then OpenCV writes it.

    fpng writes a 1920x1080 comp frame in about 8 ms of CPU where OpenCV's libpng takes about 40 ms, at the same
    size; the file is a plain 8-bit PNG (one IDAT stream) that libpng, OpenCV, Pillow and ffmpeg read to the
    same pixels (tests/test_speed_paths.py)."""
    if _fpng is None or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        return None
    return bytes(_fpng.encode_ndarray(np.ascontiguousarray(pixels)))


def write_image(
    path: Path | str,
    frame: np.ndarray,
    alpha: bool = False,
    compress: bool = True,
    key: str | None = None,
    depth: int = 8,
) -> None:
    """Write a premultiplied float RGBA frame (or a ``uint8`` RGB/RGBA array as it is) atomically.

    ``compress=False`` stores PNG data uncompressed (``STORED_PNG_PARAMS``), for intermediates. ``key`` is
    stored in the PNG or TIFF (`read_frame_key` reads it back): the frame says what made it. ``depth=16`` writes a
    float frame at 16 bits a sample. A ``.exr`` path is written by OpenEXR (`encode_exr`: half float, linear
    light).
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":  # OpenCV cannot write EXR; a still asked for as .exr is half float linear
        if frame.dtype == np.uint8:
            frame = _decode(np.ascontiguousarray(frame[:, :, 2::-1] if frame.shape[2] == 3 else
                                                 cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA)), path)
        write_bytes_atomic(path, encode_exr(frame, alpha, key))
        return
    if frame.dtype == np.uint8:
        pixels = frame
    elif depth == 16:
        pixels = to_uint16_rgba(frame) if alpha else to_uint16_rgb(frame)
    else:
        pixels = to_uint8_rgba(frame) if alpha else to_uint8_rgb(frame)
    data = fast_png(pixels) if compress and path.suffix.lower() == ".png" else None
    if data is None:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        png = PNG_PARAMS if compress else STORED_PNG_PARAMS
        ok, buf = cv2.imencode(path.suffix or ".png", bgr, png if path.suffix.lower() == ".png" else [])
        if not ok:
            raise CorruptInputError(f"{path}: cannot encode as {path.suffix}")
        data = buf.tobytes()
    if key is not None and path.suffix.lower() == ".png":
        data = _with_key(data, key)
    elif key is not None and path.suffix.lower() in TIFF_SUFFIXES:
        data = _with_tiff_key(data, key)
    write_bytes_atomic(path, data)


# ------------------------------------------------------------------------------------------------------------
# Comp frames in a format: 8-bit PNG, 16-bit PNG or OpenEXR half float ([output] frames)


def to_uint16_rgb(frame: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA float → opaque ``uint16`` RGB ``(H, W, 3)`` (as if over black), ``round(65535 c)``."""
    return (np.clip(frame[:, :, :3], 0, 1) * 65535 + 0.5).astype(np.uint16)


def to_uint16_rgba(frame: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA float → straight ``uint16`` RGBA ``(H, W, 4)``, as a 16-bit PNG (or ffmpeg's
    ``rgba64le``) stores it."""
    alpha = frame[:, :, 3:4]
    rgb = np.where(alpha > 0, frame[:, :, :3] / np.maximum(alpha, 1e-8), 0)
    return (np.clip(np.concatenate([rgb, alpha], axis=2), 0, 1) * 65535 + 0.5).astype(np.uint16)


def encode_frame(frame: np.ndarray, frames: str = "png8", alpha: bool = False, key: str | None = None) -> bytes:
    """A premultiplied float RGBA frame ``(H, W, 4)`` as the bytes of a comp frame file: ``frames`` is ``png8``,
    ``png16`` or ``exr``; without ``alpha`` the frame is flattened over black (RGB); ``key`` is stored in it."""
    if frames == "exr":
        return encode_exr(frame, alpha, key)
    if frames == "png16":
        pixels = to_uint16_rgba(frame) if alpha else to_uint16_rgb(frame)
    else:
        pixels = to_uint8_rgba(frame) if alpha else to_uint8_rgb(frame)
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if alpha else cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", bgr, PNG_PARAMS)
    if not ok:
        raise CorruptInputError(f"cannot encode a {frames} frame")
    data = buf.tobytes()
    return _with_key(data, key) if key is not None else data


def write_frame(path: Path | str, frame: np.ndarray, frames: str = "png8", alpha: bool = False, key: str | None = None) -> None:
    """Write a comp frame atomically in format ``frames`` (`encode_frame`). Errors as `write_bytes_atomic`."""
    write_bytes_atomic(Path(path), encode_frame(frame, frames, alpha, key))


def frame_from_bytes(data: bytes, name: str = "frame") -> np.ndarray:
    """The premultiplied float RGBA frame ``(H, W, 4)`` that `read_image` reads from a file holding ``data``
    (`encode_frame`'s bytes): what an encoder fed from memory must see, so that a movie made while rendering
    equals one made from the files."""
    if data.startswith(_EXR_MAGIC):
        raw = decode_exr(data, name)
    else:
        raw = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    return _decode(raw, Path(name))


# ------------------------------------------------------------------------------------------------------------
# Sequences: a single image, a numbered image sequence (bg.%04d.png) or a video file, read frame by frame.

_PRINTF = re.compile(r"%0?(\d*)d")


def sequence_frames(pattern: Path, display: str | None = None) -> dict[int, Path]:
    """The files of a printf-style sequence (``plates/bg.%04d.png``) by frame number, in order.

    Any run of digits in the pattern's place counts (``bg.3.png``, ``bg.0003.png``), so two files that spell
    one number differently are a `CorruptInputError` naming both. A path with no ``%d`` is a single file.
    """
    name = pattern.name
    m = _PRINTF.search(name)
    if not m:
        return {1: pattern} if pattern.is_file() else {}
    rx = _numbered(name, m)
    found: dict[int, Path] = {}
    if pattern.parent.is_dir():
        for p in sorted(pattern.parent.iterdir()):
            hit = rx.match(p.name)
            if not hit or p.is_dir():  # a folder named like a frame is no frame (the still's rule too)
                continue
            number = int(hit.group(1))
            if number in found:
                raise CorruptInputError(
                    f"{display or pattern}: frame {number} of {name!r} is both {found[number].name!r} and "
                    f"{p.name!r}; keep one"
                )
            found[number] = p
    return dict(sorted(found.items()))


def _numbered(name: str, m: re.Match[str]) -> re.Pattern[str]:
    """The file names of the sequence ``name`` (its ``%d`` found at ``m``), the number as group 1."""
    return re.compile(re.escape(name[: m.start()]) + r"(\d+)" + re.escape(name[m.end() :]) + "$")


def sequence_number(pattern: Path, path: Path) -> int | None:
    """The frame number ``path`` has in the sequence ``pattern`` (``bg.%04d.png``, ``bg.0011.png`` → 11), None
    for a file not named as one of its frames."""
    m = _PRINTF.search(pattern.name)
    hit = _numbered(pattern.name, m).match(path.name) if m else None
    return int(hit.group(1)) if hit else None


def sequence_name(pattern: Path, number: int) -> str:
    """The file name of frame ``number`` of ``pattern`` as printf spells it (``bg.%04d.png``, 3 → ``bg.0003.png``)."""
    name = pattern.name
    m = _PRINTF.search(name)
    if not m:
        return name
    width = int(m.group(1) or 0)
    return f"{name[: m.start()]}{number:0{width}d}{name[m.end() :]}"


MAX_SEQUENCE = 1_000_000
"""The most frames a sequence's numbers may span: ten times the longest cut (``spec.models.MAX_FRAMES``), room
for a plate numbered from 1001 or one that runs on past the cut, and a bound on the list of its frames."""


def sequence_files(
    pattern: Path, display: str | None = None, hold_missing: bool = False, holdable: bool = True
) -> list[Path]:
    """The file of each frame of a sequence, frame ``i`` being number ``first + i``: never by position, so a gap
    never slides the later frames early. A missing number is a `MissingInputError` naming it and the pattern,
    unless ``hold_missing`` (then the frame before it is held); the line says how to hold it where a spec can
    (``holdable``: not for `compositor deflicker` and `qc`, which have no such setting)."""
    numbered = sequence_frames(pattern, display)
    if not numbered:
        return []
    first, last = next(iter(numbered)), next(reversed(numbered))
    if last - first >= MAX_SEQUENCE:  # one stray file (bg.99999999.png) with hold_missing: a list of 10^8 paths
        raise CorruptInputError(
            f"{display or pattern}: {pattern.name!r} is numbered {first}-{last}, more frames than a cut may have "
            f"({MAX_SEQUENCE}): is {numbered[last].name!r} one of its frames?"
        )
    files: list[Path] = []
    for number in range(first, last + 1):
        path = numbered.get(number)
        if path is None:
            if not hold_missing:
                hold = " (hold_missing = true in [background] holds the frame before)" if holdable else ""
                raise MissingInputError(
                    f"{display or pattern}: frame {number} ({sequence_name(pattern, number)!r}) is missing from "
                    f"{pattern.name!r}, numbered {first}-{last}{hold}"
                )
            path = files[-1]
        files.append(path)
    return files


# OpenCV's FFmpeg backend prints FFmpeg's own errors ("[mov,mp4,...] moov atom not found") on stderr, above the
# line that names the plate and the key: quiet, unless the user asks for them (OpenCV reads this variable when it
# opens its first video).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class FrameSource:
    """Frames of an image, an image sequence or a video, streamed in order (never all in memory).

    ``len(source)`` is the number of frames (1 for a still image, which repeats forever). A sequence's frame
    ``i`` is the file numbered ``first + i`` (`sequence_files`): a gap is an error naming the missing frame,
    or with ``hold_missing`` the frame before it is held. ``display`` says where the source comes from in
    messages (``shots/<cut>/shot.toml: background.plate``) and ``rel`` how a file is named there (e.g.
    relative to the production). ``holdable``: whether a gap's line points to ``hold_missing``, a spec's
    setting (not for the files `compositor deflicker` and `qc` are given).
    """

    def __init__(
        self,
        path: Path | str,
        display: str | None = None,
        rel: Callable[[Path], str] | None = None,
        hold_missing: bool = False,
        holdable: bool = True,
    ):
        self.path = Path(path)
        self.display = display or str(path)
        self._rel = rel
        self._files: list[Path] | None = None
        self._first_size: tuple[Path, tuple[int, int] | None] | None = None
        self.still = False
        if self.path.suffix.lower() in VIDEO_SUFFIXES and "%" not in self.path.name:
            if not self.path.is_file():
                raise MissingInputError(f"{self.display}: no such video file")
            try:
                cap = cv2.VideoCapture(str(self.path))
                opened = cap.isOpened()
                n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if opened else 0
                size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
                cap.release()
            except cv2.error as e:
                raise _corrupt(self.display, f"cannot read the video (OpenCV: {_cv_reason(e)})") from None
            if n <= 0:
                raise CorruptInputError(f"{self.display}: cannot read the video (no frames decoded)")
            _check_budget(size, self.display)
            self._length = n
        else:
            self._files = sequence_files(self.path, self.display, hold_missing, holdable)
            if not self._files:
                if self.path.is_dir():  # the folder the frames are in, as `deflicker --output` takes one
                    raise MissingInputError(self._folder_problem())
                raise MissingInputError(f"{self.display}: no image or sequence frames found")
            self.still = "%" not in self.path.name
            self._length = len(self._files)

    def __len__(self) -> int:
        return self._length

    def _folder_problem(self) -> str:
        """The one line for a folder given where its frames are meant: "no image or sequence frames found" for
        a folder full of frames sent the user looking for missing files. Names the patterns its numbered image
        files follow (a folder may hold a plate and its guide side by side)."""
        try:
            names = sorted(p.name for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError:
            names = []
        patterns: dict[str, None] = {}
        for name in names:
            digits = list(re.finditer(r"\d+", name))
            if digits:
                last = digits[-1]
                patterns[f"{name[: last.start()]}%0{len(last.group())}d{name[last.end() :]}"] = None
        if not patterns:
            return f"{self.display}: a folder with no numbered image files (a sequence is named 'frames/%04d.png')"
        # Given on the command line, the pattern in full (the user's own spelling of the folder); in a spec
        # only the file names: the spec's paths are relative to its own folder, not to what `rel` shows.
        shown = [f"'{self.path / name}'" if self._rel is None else f"'{name}'" for name in list(patterns)[:3]]
        more = f" and {len(patterns) - 3} more" if len(patterns) > 3 else ""
        what = "e.g." if self._rel is None else "its files are named"
        return f"{self.display}: a folder, not a sequence: name its frames with a printf pattern ({what} " + (
            f"{', '.join(shown)}{more})"
        )

    def _corrupt(self, path: Path, index: int, reason: str | None = None) -> CorruptInputError:
        """The one line for a file of the source that does not decode (``index``: 0-based frame)."""
        name = self._rel(path) if self._rel is not None else str(path)
        return undecodable(self.display if self.still else f"{self.display}: frame {index + 1}", name, reason)

    def _read(self, path: Path, index: int) -> np.ndarray:
        try:
            return read_image(path)
        except CorruptInputError as e:
            raise self._corrupt(path, index, e.reason) from None

    def _check_size(self, path: Path, index: int) -> None:
        """A sequence keeps its first file's size (by the headers): one frame painted over at another size would
        be scaled on its own and jump in the picture, so it is an error naming both files."""
        first = self._files[0] if self._files else path
        if path == first:
            return
        if self._first_size is None or self._first_size[0] != first:  # read once, not again every frame
            self._first_size = (first, image_size(first))
        want, got = self._first_size[1], image_size(path)
        if want is not None and got is not None and want != got:
            name = self._rel(path) if self._rel is not None else str(path)
            first_name = self._rel(first) if self._rel is not None else str(first)
            raise CorruptInputError(
                f"{self.display}: frame {index + 1}: {name} is {got[0]}x{got[1]}, but {first_name} is "
                f"{want[0]}x{want[1]} (every frame of a sequence has one size)"
            )

    def frames(self, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
        """Yield ``count`` frames from index ``start`` (0-based) as premultiplied float RGBA."""
        count = self._length - start if count is None else count
        if self._files is not None:
            if self.still:
                img = self._read(self._files[0], 0)
                for _ in range(count):
                    yield img
                return
            previous: tuple[Path, np.ndarray] | None = None
            for offset, p in enumerate(self._files[start : start + count]):
                if previous is None or previous[0] != p:  # a held frame is read once
                    self._check_size(p, start + offset)
                    previous = (p, self._read(p, start + offset))
                yield previous[1]
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            for i in range(count):
                try:
                    ok, bgr = cap.read()
                    frame = _decode(bgr, self.path) if ok else None
                except cv2.error as e:
                    raise _corrupt(self.display, f"frame {start + i + 1} cannot be decoded (OpenCV: {_cv_reason(e)})") from None
                if frame is None:
                    raise CorruptInputError(f"{self.display}: frame {start + i + 1} cannot be decoded")
                yield frame
        finally:
            cap.release()

    @property
    def bits(self) -> int:
        """Bits a sample the source stores (`sample_bits` of its first file; 8 for a video)."""
        return sample_bits(self._files[0]) if self._files else 8

    @property
    def first_number(self) -> int:
        """The number of the first frame as its file names it (``bg.0011.png``: 11), which is how a user counts
        the frames of a sequence; 1 for a video or a still."""
        number = sequence_number(self.path, self._files[0]) if self.sequence and self._files else None
        return 1 if number is None else number

    @property
    def sequence(self) -> bool:
        """Whether the frames are numbered image files (not a video, not a still)."""
        return self._files is not None and not self.still

    def check(self, count: int | None = None) -> None:
        """Raise the error `frames` would raise reading the first ``count`` frames (default: all), without
        keeping any: every file of an image source is decoded, a video's first frame is."""
        count = self._length if count is None else min(count, self._length)
        if self._files is not None:
            for index, path in enumerate(self._files[: 1 if self.still else count]):
                problem = decode_problem(path)
                if problem is not None:
                    raise self._corrupt(path, index, problem.reason)
                if not self.still:
                    self._check_size(path, index)
            return
        next(iter(self.frames(0, 1)), None)

    def files(self) -> list[Path]:
        """The files the source reads, each once (for dependency tracking)."""
        return list(dict.fromkeys(self._files)) if self._files is not None else [self.path]

    def frame_file(self, index: int) -> Path:
        """The file frame ``index`` (0-based) comes from: of a sequence, the file numbered ``first + index`` (or
        the one held for it); of a still or a video, the one file."""
        if self._files is None:
            return self.path
        return self._files[0] if self.still else self._files[index]


# ------------------------------------------------------------------------------------------------------------
# Counting a movie's video frames without starting ffprobe (issue 14: ffprobe costs ~130 ms of CPU to start,
# once per encoded segment)

_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def mp4_cut_short(path: Path | str) -> bool:
    """Whether an MP4/MOV file ends inside one of its top-level boxes (copied halfway, written to a disk that
    filled): its ``moov`` box, at the front of a ``+faststart`` file, still reads whole (key, frame count) while
    the pictures in ``mdat`` are gone. Reads only the box headers (a few bytes each), not the movie."""
    try:
        with open(path, "rb") as f:
            end = os.fstat(f.fileno()).st_size
            pos = 0
            while pos + 8 <= end:
                f.seek(pos)
                head = f.read(16)
                size, header = struct.unpack(">I", head[:4])[0], 8
                if size == 1 and len(head) == 16:
                    size, header = struct.unpack(">Q", head[8:16])[0], 16
                elif size == 0:  # "to the end of the file"
                    return False
                if size < header:
                    return True
                pos += size
            return pos != end
    except OSError:
        return True


def mp4_video_samples(path: Path | str) -> int | None:
    """The number of samples (frames: one H.264 access unit each) of the first video track of an MP4/MOV
    file, read from its ``stsz`` box (what ``ffprobe -count_packets`` reports for such a file); None when the
    file is not one this reader follows (fragmented, no video track, truncated, not MP4): then ask ffprobe."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None

    def boxes(start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack(">I4s", data[pos : pos + 8])
            header = 8
            if size == 1 and pos + 16 <= end:
                size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
            elif size == 0:
                size = end - pos
            if size < header or pos + size > end:
                return
            yield kind, pos + header, pos + size
            pos += size

    def find_track(start: int, end: int) -> int | None:
        for kind, body, stop in boxes(start, end):
            if kind == b"trak":
                handler, samples = _track(body, stop)
                if handler == b"vide" and samples is not None:
                    return samples
            elif kind == b"moov":
                found = find_track(body, stop)
                if found is not None:
                    return found
        return None

    def _track(start: int, end: int) -> tuple[bytes | None, int | None]:
        handler, samples = None, None
        for kind, body, stop in boxes(start, end):
            if kind == b"hdlr" and stop - body >= 12:
                handler = data[body + 8 : body + 12]
            elif kind == b"stsz" and stop - body >= 12:
                samples = struct.unpack(">I", data[body + 8 : body + 12])[0]
            elif kind in _MP4_CONTAINERS:
                h, s = _track(body, stop)
                handler, samples = handler or h, samples if samples is not None else s
        return handler, samples

    return find_track(0, len(data))
