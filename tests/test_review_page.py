"""The review page in a real browser (Debian's Chromium, headless, driven over the DevTools pipe): it loads with
no console errors as a file and served by ``compositor review``, the movie decodes (a frame drawn to a canvas is
the comp frame, not black), the editors' keys step one frame, and a note is saved beside the page. Without
Chromium these tests fail saying what to install: a browser test that skips is a test nobody runs."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from compositor.core.io import read_image, write_image
from compositor.spec import Production, load_edit, load_shot
from compositor.steps.edit import build_edit
from compositor.steps.edit.notes import make_server
from compositor.steps.encode import encode_cut
from tests.headless import INSTALL, Chromium, chromium_exe

REPO = Path(__file__).resolve().parents[1]
SIZE = (160, 96)
CUTS = [("sc010_c010", 6, 1), ("sc010_c020", 5, 101)]
SLATE = 6  # 0.25 s at 24 fps


def level(cut: int, index: int) -> float:
    """The blue of comp frame ``index`` (0-based) of cut ``cut``: every frame of the edit differs."""
    return 0.2 + 0.06 * (index + 1) + 0.3 * cut


def make_production(root: Path, encode: str = "screening", cuts: list | None = None) -> Production:
    cuts = cuts or CUTS
    (root / "templates" / "styles").mkdir(parents=True)
    (root / "templates" / "styles" / "dusk.toml").write_text('description = "x"\n')
    shutil.copytree(REPO / "templates" / "encode", root / "templates" / "encode")
    for name, frames, start in cuts:
        (root / "shots" / name).mkdir(parents=True)
        (root / "shots" / name / "shot.toml").write_text(f"[shot]\nframes = {frames}\nstart = {start}\n")
    names = ", ".join(f'"{c[0]}"' for c in cuts)
    (root / "shots" / "edit.toml").write_text(
        f'[edit]\nname = "short"\ntitle = "猫と散歩 </script>"\nfps = 24\nsize = [{SIZE[0]}, {SIZE[1]}]\n'
        f'slate = 0.25\nversion = "v002"\nencode = "{encode}"\ncuts = [{names}]\n'
    )
    production = Production(root)
    for c, (name, _, _) in enumerate(cuts):
        shot = load_shot(production, name)
        for i, n in enumerate(shot.frame_numbers()):
            frame = np.zeros((SIZE[1], SIZE[0], 4), np.float32)
            frame[..., 1], frame[..., 2], frame[..., 3] = 0.3, level(c, i), 1
            write_image(shot.out / "comp" / f"{name}.{n:04d}.png", frame)
        encode_cut(shot)
    build_edit(load_edit(production))
    return production


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Production:
    return make_production(tmp_path_factory.mktemp("review") / "p")


@pytest.fixture(scope="module")
def server(production: Production) -> Iterator[str]:
    httpd = make_server(load_edit(production))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    exe = chromium_exe()
    if exe is None:
        pytest.fail(f"no Chromium to test the review page in: {INSTALL}")
    with Chromium(exe) as chromium:
        yield chromium


# A frame of the video drawn to a canvas: the mean of its middle (between the burn-ins' bands), as RGB 0-255.
DRAWN = """(() => {
  const v = document.getElementById('movie'), c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0);
  const d = g.getImageData(c.width / 4, c.height / 3, c.width / 2, c.height / 3).data, m = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) m[k] += d[i + k] / (d.length / 4);
  return {rgb: m, frame: Number(document.getElementById('where').dataset.frame), time: v.currentTime};
})()"""

SETTLED = """new Promise(done => {
  const v = document.getElementById('movie');
  const ready = () => v.readyState >= 2 && !v.seeking;
  if (ready()) { requestAnimationFrame(() => done(true)); return; }
  const t = setInterval(() => { if (ready()) { clearInterval(t); requestAnimationFrame(() => done(true)); } }, 20);
  setTimeout(() => { clearInterval(t); done(false); }, 10000);
})"""


def drawn(browser: Chromium) -> dict:
    assert browser.evaluate(SETTLED), "the video never became ready (it does not decode?)"
    return browser.evaluate(DRAWN)


def test_the_page_opens_as_a_file_on_its_poster_with_no_errors(production: Production, browser: Chromium) -> None:
    paths = load_edit(production).paths
    assert paths.poster.is_file()
    poster = read_image(paths.poster)
    assert poster.shape[:2] == (SIZE[1], SIZE[0]) and poster[..., :3].max() > 0.5  # the slate: text on grey
    browser.open(paths.html.as_uri())
    assert browser.evaluate("document.getElementById('movie').getAttribute('poster')") == paths.poster.name
    assert browser.evaluate("document.title").startswith("猫と散歩 </script>")
    # Japanese shows in the shipped font, which the page loads from beside itself (no font need be installed).
    assert browser.evaluate("document.fonts.load('16px \"compositor CJK\"', '猫と散歩').then(f => f.length)") == 1
    assert browser.evaluate("document.querySelectorAll('tr[data-start] img').length") == len(CUTS)
    assert browser.evaluate("document.querySelectorAll('script[src], link[href^=http]').length") == 0  # offline
    assert browser.problems() == []


def test_each_cut_shows_its_movie_psnr_measured_between_the_burn_ins(production: Production) -> None:
    edit = load_edit(production)
    page = edit.paths.html.read_text(encoding="utf-8")
    for name, _, _ in CUTS:
        kept = json.loads(edit.paths.movie_qc(name).read_text(encoding="utf-8"))
        # Flat frames come back nearly exact; the black letterbox bands, were they counted, would give under 25 dB.
        assert kept["cut"] == name and kept["psnr"] > 35
        assert f"<td>{kept['psnr']:.2f} dB</td>" in page


def test_the_movie_decodes_and_the_keys_step_one_frame(server: str, browser: Chromium) -> None:
    browser.open(f"{server}/short.html")
    assert browser.evaluate("document.getElementById('movie').canPlayType('video/mp4; codecs=\"avc1.64001f\"')")
    browser.press("Home")
    first = drawn(browser)
    assert first["frame"] == 0 and max(first["rgb"]) > 10  # the slate's grey, not black
    # Into the first cut: each press of → or . is exactly one frame on, each ← or , one back.
    for _ in range(SLATE + 2):
        browser.press("ArrowRight", key_code=39)
    at = drawn(browser)
    assert at["frame"] == SLATE + 2
    assert abs(at["rgb"][2] - 255 * level(0, 2)) < 10 and abs(at["rgb"][1] - 255 * 0.3) < 10
    browser.press(".", "Period", 190)
    on = drawn(browser)
    assert on["frame"] == SLATE + 3 and abs(on["rgb"][2] - 255 * level(0, 3)) < 10
    browser.press(",", "Comma", 188)
    browser.press("ArrowLeft", key_code=37)
    back = drawn(browser)
    assert back["frame"] == SLATE + 1 and abs(back["rgb"][2] - 255 * level(0, 1)) < 10
    # The second cut's first frame, from its row in the table.
    browser.evaluate("document.querySelectorAll('tr[data-start]')[1].click()")
    second = drawn(browser)
    assert second["frame"] == SLATE + CUTS[0][1]
    assert abs(second["rgb"][2] - 255 * level(1, 0)) < 10
    text = browser.evaluate("document.getElementById('where').textContent")
    assert "sc010_c020 frame 101" in text and "01:00:00:12" in text
    # L plays, K stops; J plays backwards (a step back at a time) until K.
    browser.press("l", "KeyL", 76)
    assert browser.evaluate("!document.getElementById('movie').paused")
    browser.press("k", "KeyK", 75)
    assert browser.evaluate("document.getElementById('movie').paused")
    browser.press("End")
    end = drawn(browser)["frame"]
    browser.press("j", "KeyJ", 74)
    browser.evaluate("new Promise(r => setTimeout(r, 400))")
    browser.press("k", "KeyK", 75)
    back = drawn(browser)["frame"]
    assert end == SLATE + CUTS[0][1] + CUTS[1][1] - 1 and back < end
    assert browser.problems() == []


def test_a_movie_browsers_cannot_play_gets_a_vp9_proxy_that_plays(tmp_path: Path, browser: Chromium) -> None:
    """The master preset (H.264 4:4:4 10-bit): the page's first source is a VP9 copy, and it decodes."""
    production = make_production(tmp_path / "m", encode="master", cuts=CUTS[:1])
    paths = load_edit(production).paths
    assert paths.proxy.is_file()
    browser.open(paths.html.as_uri())
    assert browser.evaluate("document.querySelector('video source').getAttribute('src')") == paths.proxy.name
    assert browser.evaluate(SETTLED)
    assert browser.evaluate("document.getElementById('movie').currentSrc").endswith(".proxy.webm")
    assert browser.evaluate("document.getElementById('movie').videoWidth") == SIZE[0]
    assert browser.problems() == []
    # Made again only when the movie changes.
    stamp = paths.proxy.stat().st_mtime_ns
    build_edit(load_edit(production))
    assert paths.proxy.stat().st_mtime_ns == stamp


def test_a_note_is_saved_beside_the_page(production: Production, server: str, browser: Chromium) -> None:
    notes = load_edit(production).paths.notes
    browser.open(f"{server}/short.html")
    browser.press("Home")
    for _ in range(SLATE + 1):
        browser.press("ArrowRight", key_code=39)
    drawn(browser)
    browser.evaluate("document.getElementById('text').value = 'the cat\\'s ear pops'")
    browser.evaluate("document.getElementById('add').click()")
    browser.evaluate(
        "new Promise(r => { const t = setInterval(() => { if (/saved/.test(document.getElementById('status')"
        ".textContent)) { clearInterval(t); r(); } }, 20); setTimeout(r, 5000); })"
    )
    saved = json.loads(notes.read_text(encoding="utf-8"))
    assert saved["edit"] == "short"
    (note,) = [n for n in saved["notes"] if n["text"] == "the cat's ear pops"]  # with any another test left
    assert (note["frame"], note["cut"], note["cut_frame"], note["timecode"], note["text"]) == (
        SLATE + 2, "sc010_c010", 2, "01:00:00:07", "the cat's ear pops",
    )
    browser.open(f"{server}/short.html")  # the page shows the notes there are
    browser.evaluate("new Promise(r => setTimeout(r, 300))")
    assert "the cat's ear pops" in browser.evaluate("document.getElementById('notes').textContent")
    assert browser.problems() == []


def request(server: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):  # noqa: ANN201
    host = server.removeprefix("http://")
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    return answer.status, answer.read(), dict(answer.getheaders())


def test_the_server_writes_only_checked_notes_and_serves_only_render(production: Production, server: str) -> None:
    notes = load_edit(production).paths.notes
    good = json.dumps({"notes": [{"frame": 3, "text": "ok", "cut": "slate"}]}).encode()
    assert request(server, "POST", "/short.notes.json", good)[0] == 200
    before = notes.read_bytes()
    for bad in (b"{", b'{"notes": [{"frame": 0, "text": "x"}]}', b'{"notes": [{"frame": 2}]}', b"[]"):
        status, body, _ = request(server, "POST", "/short.notes.json", bad)
        assert status == 400 and json.loads(body)["error"]
    assert notes.read_bytes() == before
    assert request(server, "POST", "/short.html", good)[0] == 404
    assert request(server, "GET", "/../shots/edit.toml")[0] == 404
    assert request(server, "GET", "/%2e%2e/shots/edit.toml")[0] == 404
    status, body, headers = request(server, "GET", "/short.mp4", headers={"Range": "bytes=0-99"})
    assert status == 206 and len(body) == 100 and headers["Content-Range"].startswith("bytes 0-99/")


def test_compositor_review_without_a_page_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compositor import cli  # noqa: PLC0415
    from compositor.errors import MissingInputError  # noqa: PLC0415

    root = tmp_path / "p"
    (root / "shots" / "c").mkdir(parents=True)
    (root / "shots" / "c" / "shot.toml").write_text("[shot]\nframes = 2\n")
    (root / "templates" / "encode").mkdir(parents=True)
    shutil.copy(REPO / "templates" / "encode" / "screening.toml", root / "templates" / "encode")
    (root / "shots" / "edit.toml").write_text('[edit]\nname = "e"\ncuts = ["c"]\n')
    monkeypatch.chdir(root)
    monkeypatch.setitem(cli._state, "root", None)
    with pytest.raises(MissingInputError, match=r"^render/e.html: no review page yet \(run `compositor cut` first\)$"):
        cli.review(port=0)


def test_opened_as_a_file_the_notes_are_offered_as_a_download(
    production: Production, browser: Chromium, tmp_path: Path
) -> None:
    """A static page cannot write beside itself: without a save dialog (the File System Access API) it
    downloads ``<edit>.notes.json``, holding the notes the page was made with and the new one."""
    paths = load_edit(production).paths
    browser.open(paths.html.as_uri())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.send(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        browser=True,
    )
    browser.evaluate("window.showSaveFilePicker = undefined")
    browser.press("End")
    assert browser.evaluate(SETTLED)  # (a file's frames cannot be read back here: the canvas is cross-origin)
    browser.evaluate("document.getElementById('text').value = 'last frame: hold'")
    browser.evaluate("document.getElementById('add').click()")
    assert "not saved yet" in browser.evaluate("document.getElementById('status').textContent")
    browser.evaluate("document.getElementById('save').click()")
    while True:
        event = browser.wait_for("Browser.downloadProgress", timeout=20)
        browser.events.remove(event)
        if event["params"]["state"] == "completed":
            break
    saved = json.loads((downloads / paths.notes.name).read_text(encoding="utf-8"))
    assert saved["edit"] == "short"
    assert saved["notes"][-1]["text"] == "last frame: hold"
    assert saved["notes"][-1]["frame"] == SLATE + CUTS[0][1] + CUTS[1][1]
    assert browser.problems() == []
