"""The README's pictures of the review page and of a burn-in frame: ``docs/img/review_page.png`` and
``docs/img/burnin.png``.

Run from the repository root: ``python docs/pictures/review.py``. It builds a small production in a temporary
folder (two cuts of painted frames, a Japanese title, a version, a note), encodes the cuts with the screening
preset (letterbox burn-ins), assembles the screening cut and its review page, then photographs the page in
headless Chromium (``apt-get install chromium``) on a frame of the second cut, and writes that frame of the
cut's movie as the burn-in picture.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from compositor.core.io import read_image, write_image  # noqa: E402
from compositor.spec import Production, load_edit, load_shot  # noqa: E402
from compositor.steps.edit import build_edit  # noqa: E402
from compositor.steps.edit.notes import make_server, write_notes  # noqa: E402
from compositor.steps.encode import encode_cut, ffmpeg_exe  # noqa: E402
from tests.headless import INSTALL, Chromium, chromium_exe  # noqa: E402

OUT = REPO / "docs" / "img"
SIZE = (640, 360)
CUTS = [("sc010_c010", 24, 1, 0.0), ("sc010_c020", 18, 101, 1.0)]


def painted(size: tuple[int, int], t: float, dusk: float) -> np.ndarray:
    """A sky, a hill and a ball moving across: premultiplied RGBA float32 (H, W, 4)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    top = np.array([0.25, 0.45, 0.8]) * (1 - dusk) + np.array([0.35, 0.2, 0.45]) * dusk
    low = np.array([0.85, 0.9, 0.95]) * (1 - dusk) + np.array([0.95, 0.6, 0.4]) * dusk
    sky = top + (low - top) * (y / h)[..., None]
    hill = y > h * (0.7 - 0.12 * np.exp(-(((x - w * 0.6) / (w * 0.25)) ** 2)))
    frame = np.where(hill[..., None], np.array([0.3, 0.55, 0.3]) * (1 - 0.4 * dusk), sky)
    cx, cy = w * (0.15 + 0.7 * t), h * (0.45 - 0.2 * np.sin(np.pi * t))
    ball = (x - cx) ** 2 + (y - cy) ** 2 < (h * 0.08) ** 2
    frame = np.where(ball[..., None], np.array([0.95, 0.85, 0.3]), frame)
    return np.dstack([frame, np.ones((h, w, 1))]).astype(np.float32)


def build(root: Path) -> Production:
    (root / "templates" / "styles").mkdir(parents=True)
    (root / "templates" / "styles" / "dusk.toml").write_text('description = "x"\n')
    shutil.copytree(REPO / "templates" / "encode", root / "templates" / "encode")
    for name, frames, start, _ in CUTS:
        (root / "shots" / name).mkdir(parents=True)
        (root / "shots" / name / "shot.toml").write_text(f"[shot]\nframes = {frames}\nstart = {start}\n")
    names = ", ".join(f'"{c[0]}"' for c in CUTS)
    (root / "shots" / "edit.toml").write_text(
        '[edit]\nname = "short"\ntitle = "猫と散歩 — The Cat and the Walk"\nfps = 24\n'
        f'size = [{SIZE[0]}, {SIZE[1]}]\nslate = 1.0\nversion = "v003"\ncuts = [{names}]\n',
        encoding="utf-8",
    )
    production = Production(root)
    for name, frames, _, dusk in CUTS:
        shot = load_shot(production, name)
        for i, n in enumerate(shot.frame_numbers()):
            write_image(shot.out / "comp" / f"{name}.{n:04d}.png", painted(SIZE, i / (frames - 1), dusk))
        encode_cut(shot)
    edit = load_edit(production)
    build_edit(edit)
    write_notes(
        edit,
        [
            {"frame": 30, "cut": "sc010_c010", "cut_frame": 6, "timecode": "01:00:01:05",
             "text": "ボールの影がない — the ball needs a shadow", "author": "director"},
            {"frame": 58, "cut": "sc010_c020", "cut_frame": 110, "timecode": "01:00:02:09",
             "text": "hold two more frames before the cut", "author": "editor"},
        ],
    )  # fmt: skip
    return production


def main() -> None:
    exe = chromium_exe()
    if exe is None:
        raise SystemExit(f"no Chromium: {INSTALL}")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        production = build(Path(tmp) / "p")
        edit = load_edit(production)
        # The burn-in picture: frame 10 of the second cut's movie (letterbox bands, record timecode).
        movie = load_shot(production, CUTS[1][0]).movie()
        frame = Path(tmp) / "burnin.png"
        subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-i", str(movie), "-vf", "select=eq(n\\,9)", "-frames:v", "1", str(frame)],
            check=True,
        )
        write_image(OUT / "burnin.png", read_image(frame))
        server = make_server(edit)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with Chromium(exe, 1280, 1000) as browser:
                browser.open(f"http://127.0.0.1:{server.server_address[1]}/{edit.paths.html.name}")
                browser.evaluate("new Promise(r => setTimeout(r, 500))")
                browser.press("Home")
                for _ in range(24 + 24 + 9):
                    browser.press("ArrowRight", key_code=39)
                browser.evaluate("new Promise(r => setTimeout(r, 800))")
                shot = browser.send("Page.captureScreenshot", {"format": "png"})
                (OUT / "review_page.png").write_bytes(base64.b64decode(shot["data"]))
        finally:
            server.shutdown()
    for name in ("review_page.png", "burnin.png"):
        print(f"wrote docs/img/{name} ({(OUT / name).stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
