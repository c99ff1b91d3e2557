"""Generate the benchmark production (issue 5) under ``bench/out/`` (git-ignored): nothing here is committed
as frames.

The cut ``bench_c010``: 1920×1080 at 24 fps, 96 frames (``--frames 960`` for the memory check). A painted
background on a 3840×1080 canvas (``plates/bg.png``) that the camera pans across the whole cut; three cel
layers of full-frame RGBA drawings about a quarter covered (A: 24 drawings on twos, B: 16 on threes, C: 12 on
twos); one BOOK layer in front with parallax 1.3.

The pan moves a whole number of pixels a frame (20 px; the BOOK 26 px) so that the ffmpeg peer, whose ``crop``
and ``overlay`` only place whole pixels, can make the same pixels; sub-pixel pans are covered by
tests/test_fast_paths.py. A longer cut pans back and forth at the same speed, so every frame costs what a
frame of the 96-frame cut costs.

    python bench/make_bench_cut.py [--frames 96] [--out bench/out/cut96]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
CUT = "bench_c010"
SIZE = (1920, 1080)
CANVAS = (3840, 1080)
SPEED = 20  # camera pan in px a frame
LEG = 95  # frames from one end of the pan to the other: 960 → 960 + 95 * 20 = 2860
BOOK_SIZE = (4400, 1080)
LAYERS = {  # name: (drawings, hold, parallax, position)
    "A": (24, 2, 0.0, (0, 0)),
    "B": (16, 3, 0.0, (0, 0)),
    "C": (12, 2, 1.0, (960, 0)),
}


# ------------------------------------------------------------------------------------------------------------
# The painted background


def _noise(rng: np.random.Generator, shape: tuple[int, int], scale: int) -> np.ndarray:
    """Smooth value noise in [0, 1], ``shape`` (h, w), features about ``scale`` px."""
    h, w = shape
    small = rng.random((max(2, h // scale + 2), max(2, w // scale + 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _ridge(rng: np.random.Generator, width: int, base: float, amplitude: float, scale: int) -> np.ndarray:
    line = np.zeros(width, np.float32)
    for octave in range(4):
        s = max(8, scale >> octave)
        pts = rng.random(width // s + 3).astype(np.float32)
        line += cv2.resize(pts[None, :], (width, 1), interpolation=cv2.INTER_CUBIC)[0] * (
            amplitude / 2**octave
        )
    return base - line


def paint_background(seed: int = 5) -> np.ndarray:
    """A painted-looking landscape, uint8 BGR ``(1080, 3840, 3)``: sky, clouds, three ranges of hills, a
    town."""
    rng = np.random.default_rng(seed)
    w, h = CANVAS
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, horizon = np.array([0.85, 0.55, 0.30], np.float32), np.array([0.75, 0.85, 0.98], np.float32)  # BGR
    img = np.broadcast_to(top * (1 - y) + horizon * y, (h, w, 3)).copy()
    clouds = _noise(rng, (h, w), 160) * _noise(rng, (h, w), 60)
    clouds = np.clip((clouds - 0.25) * 3, 0, 1) * np.clip(1.2 - y[:, :, 0] * 1.6, 0, 1)
    img = img * (1 - clouds[:, :, None]) + np.array([0.97, 0.95, 0.96], np.float32) * clouds[:, :, None]
    rows = np.arange(h, dtype=np.float32)[:, None]
    for base, amp, scale, colour in [
        (620, 260, 700, (0.62, 0.58, 0.52)),
        (760, 200, 400, (0.42, 0.52, 0.40)),
        (900, 140, 220, (0.22, 0.40, 0.26)),
    ]:
        ridge = _ridge(rng, w, base, amp, scale)
        mask = np.clip(rows - ridge[None, :] + 0.5, 0, 1)  # anti-aliased edge
        shade = 0.9 + 0.15 * _noise(rng, (h, w), 40)[:, :, None]
        img = img * (1 - mask[:, :, None]) + (np.array(colour, np.float32) * shade) * mask[:, :, None]
    town = np.zeros((h, w), np.uint8)
    colours = np.zeros((h, w, 3), np.float32)
    x = 0
    while x < w:
        bw, bh = int(rng.integers(40, 140)), int(rng.integers(60, 260))
        tone = rng.uniform(0.35, 0.7)
        cv2.rectangle(town, (x, 960 - bh), (x + bw, h), 255, -1)
        colours[960 - bh : h, x : x + bw] = (tone * 0.9, tone * 0.85, tone)
        for wy in range(960 - bh + 12, 950, 28):
            for wx in range(x + 8, x + bw - 10, 22):
                if rng.random() < 0.4:
                    colours[wy : wy + 10, wx : wx + 8] = (0.55, 0.85, 0.98)
        x += bw + int(rng.integers(0, 30))
    tm = town.astype(np.float32)[:, :, None] / 255
    img = img * (1 - tm) + colours * tm
    # brush texture: streaky, low-amplitude
    grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=6, sigmaY=1.2)
    img = img * (1 + 0.12 * grain[:, :, None])
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


# ------------------------------------------------------------------------------------------------------------
# Cels: flat colour, ink lines, anti-aliased edges, straight alpha (as an artist's PNG is)


def _poly(
    cx: float, cy: float, rx: float, ry: float, n: int = 64, wobble: float = 0.0, phase: float = 0.0
) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    r = 1 + wobble * np.sin(3 * t + phase)
    return np.stack([cx + rx * r * np.cos(t), cy + ry * r * np.sin(t)], axis=1)


def _shapes(layer: str, k: int, count: int) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    """The closed outlines (float px) and fill colours (BGR) of drawing ``k`` of ``layer``."""
    phase = 2 * math.pi * k / count
    swing = math.sin(phase)
    bob = 12 * abs(math.sin(phase))
    if layer == "A":  # a walking figure, left of centre
        cx, cy = 640, 560 - bob
        shapes = [
            (_poly(cx, cy + 80, 230, 330, wobble=0.04, phase=phase), (70, 90, 200)),  # coat
            (_poly(cx, cy - 330, 170, 180), (170, 200, 240)),  # head
            (_poly(cx - 60 + 90 * swing, cy + 450, 70, 160), (60, 50, 60)),  # legs
            (_poly(cx + 60 - 90 * swing, cy + 450, 70, 160), (60, 50, 60)),
            (_poly(cx - 250, cy + 40 - 80 * swing, 60, 210), (70, 90, 200)),  # arms
            (_poly(cx + 250, cy + 40 + 80 * swing, 60, 210), (70, 90, 200)),
            (_poly(cx, cy - 470, 190, 90, wobble=0.1, phase=phase), (40, 40, 60)),  # hair
        ]
    elif layer == "B":  # a second figure on the right
        cx, cy = 1420, 600 - bob
        shapes = [
            (_poly(cx, cy + 80, 250, 340, wobble=0.05, phase=phase), (120, 170, 90)),
            (_poly(cx, cy - 330, 170, 180), (160, 190, 235)),
            (_poly(cx - 170 - 40 * swing, cy + 400, 110, 160), (90, 80, 70)),
            (_poly(cx + 170 + 40 * swing, cy + 400, 110, 160), (90, 80, 70)),
            (_poly(cx + 40 * swing, cy - 450, 200, 90, wobble=0.15, phase=phase), (30, 60, 120)),
        ]
    else:  # C: a kite and its tail, riding with the background
        cx, cy = 960 + 120 * swing, 360 + 60 * math.cos(phase)
        tail = np.array([[cx + 40 * i + 30 * math.sin(phase + i), cy + 60 + 55 * i] for i in range(10)])
        shapes = [
            (np.array([[cx, cy - 360], [cx + 380, cy], [cx, cy + 260], [cx - 380, cy]]), (60, 60, 220)),
            (_poly(cx, cy - 40, 140, 140), (80, 220, 250)),
            (np.vstack([tail, tail[::-1] + [90, 0]]), (200, 120, 60)),
            (
                _poly(cx + 420 * swing, cy + 480, 420, 170, wobble=0.2, phase=phase),
                (240, 240, 250),
            ),  # a cloud puff
        ]
    return shapes


def draw_cel(layer: str, k: int, count: int) -> np.ndarray:
    """Drawing ``k`` (0-based) of ``layer``: straight-alpha uint8 BGRA ``(1080, 1920, 4)``."""
    w, h = SIZE
    colour = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    shift = 4  # sub-pixel vertices, for smooth anti-aliased outlines
    for points, fill in _shapes(layer, k, count):
        pts = [np.round(points * (1 << shift)).astype(np.int32)]
        cv2.fillPoly(colour, pts, fill, cv2.LINE_AA, shift)
        cv2.fillPoly(alpha, pts, 255, cv2.LINE_AA, shift)
        shade = [np.round((points * 0.9 + points.mean(0) * 0.1 + [25, 25]) * (1 << shift)).astype(np.int32)]
        cv2.polylines(colour, shade, True, tuple(int(c * 0.7) for c in fill), 18, cv2.LINE_AA, shift)
        cv2.polylines(colour, pts, True, (25, 20, 30), 5, cv2.LINE_AA, shift)  # ink line
        cv2.polylines(alpha, pts, True, 255, 5, cv2.LINE_AA, shift)
    return np.dstack([colour, alpha])


def draw_book() -> np.ndarray:
    """The BOOK: a foreground of grass and tree trunks on a 4400×1080 sheet, straight-alpha uint8 BGRA."""
    rng = np.random.default_rng(11)
    w, h = BOOK_SIZE
    colour = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    ridge = _ridge(rng, w, 1000, 160, 260)
    pts = np.vstack([np.stack([np.arange(w), ridge], 1), [[w, h], [0, h]]]).astype(np.int32)
    cv2.fillPoly(colour, [pts], (30, 70, 35), cv2.LINE_AA)
    cv2.fillPoly(alpha, [pts], 255, cv2.LINE_AA)
    for x in range(150, w, 900):
        trunk = np.array([[x, 0], [x + 120, 0], [x + 150, h], [x - 30, h]], np.int32)
        cv2.fillPoly(colour, [trunk], (40, 55, 75), cv2.LINE_AA)
        cv2.fillPoly(alpha, [trunk], 255, cv2.LINE_AA)
        cv2.polylines(colour, [trunk], True, (20, 25, 30), 4, cv2.LINE_AA)
    for _ in range(600):  # blades of grass
        x, y0 = int(rng.integers(0, w)), int(ridge[int(rng.integers(0, w))]) + 40
        tip = (x + int(rng.integers(-40, 40)), y0 - int(rng.integers(40, 140)))
        cv2.line(colour, (x, y0), tip, (40, int(rng.integers(90, 140)), 50), 3, cv2.LINE_AA)
        cv2.line(alpha, (x, y0), tip, 255, 3, cv2.LINE_AA)
    return np.dstack([colour, alpha])


# ------------------------------------------------------------------------------------------------------------
# The production


def camera_keys(frames: int) -> list[tuple[int, int]]:
    """(frame, x) keys: from x=960 to x=2860 and back, 20 px a frame, for as long as the cut lasts."""
    keys, frame, x, direction = [(1, 960)], 1, 960, 1
    while frame < frames:
        step = min(LEG, frames - frame)
        frame += step
        x += direction * SPEED * step
        keys.append((frame, x))
        direction = -direction
    return keys


def shot_toml(frames: int) -> str:
    keys = ",\n         ".join(f"{{ frame = {f}, x = {x}, y = 540 }}" for f, x in camera_keys(frames))
    layers = []
    for name, (count, hold, parallax, position) in LAYERS.items():
        layers.append(
            f'[[layers]]\nname = "{name}"\ncels = "cels/{name}"\ntiming = "(1-{count}@{hold})*"\n'
            f"parallax = {parallax}\nposition = [{position[0]}, {position[1]}]\n"
        )
    layers.append(f'[[layers]]\nname = "BOOK"\ncels = "cels/BOOK"\ntiming = "1@{frames}"\nparallax = 1.3\n')
    return (
        f"# The benchmark cut of issue 5 (generated by bench/make_bench_cut.py).\n[shot]\nframes = {frames}\n\n"
        f'[background]\nsource = "plate"\nplate = "plates/bg.png"\ncanvas = [{CANVAS[0]}, {CANVAS[1]}]\n\n'
        f"[camera]\nkeys = [ {keys} ]\n\n" + "\n".join(layers)
    )


def make_production(dest: Path, frames: int = 96, assets: Path | None = None) -> Path:
    """Write the production at ``dest`` (replacing its shots/, keeping render/ unless the cut changed).

    ``assets``: another bench production whose drawings and plate can be linked instead of drawn again.
    """
    shots = dest / "shots"
    cut = shots / CUT
    (cut / "plates").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "templates", dest / "templates", dirs_exist_ok=True)
    (shots / "edit.toml").write_text(
        '[edit]\nname = "bench"\ntitle = "compositor benchmark"\nfps = 24\nsize = [1920, 1080]\n'
        f'slate = 0\ncuts = ["{CUT}"]\n'
    )
    text = shot_toml(frames)
    if not (cut / "shot.toml").is_file() or (cut / "shot.toml").read_text() != text:
        (cut / "shot.toml").write_text(text)
    files: list[tuple[Path, object]] = [(cut / "plates" / "bg.png", paint_background)]
    for name, (count, _, _, _) in LAYERS.items():
        for k in range(count):
            files.append(
                (
                    cut / "cels" / name / f"{name}_{k + 1:04d}.png",
                    lambda n=name, k=k, c=count: draw_cel(n, k, c),
                )
            )
    files.append((cut / "cels" / "BOOK" / "BOOK_0001.png", draw_book))
    for path, draw in files:
        if path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        source = assets / path.relative_to(dest) if assets else None
        if source is not None and source.is_file():
            shutil.copyfile(source, path)
        else:
            cv2.imwrite(str(path), draw())  # type: ignore[operator]
    return dest


def coverage(dest: Path) -> dict[str, float]:
    """The mean fraction of the frame each layer's drawings cover (alpha > 0)."""
    out = {}
    for name in (*LAYERS, "BOOK"):
        folder = dest / "shots" / CUT / "cels" / name
        fractions = [
            float((cv2.imread(str(p), cv2.IMREAD_UNCHANGED)[:, :, 3] > 0).mean())
            for p in sorted(folder.glob("*.png"))
        ]
        out[name] = sum(fractions) / len(fractions)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--out", type=Path, default=None, help="default: bench/out/cut<frames>")
    args = parser.parse_args(argv)
    dest = args.out or OUT / f"cut{args.frames}"
    make_production(dest, args.frames)
    cov = coverage(dest)
    print(f"{dest}: {args.frames} frames; coverage " + ", ".join(f"{k} {v:.0%}" for k, v in cov.items()))


if __name__ == "__main__":
    sys.exit(main())
