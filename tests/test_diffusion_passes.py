"""The passes over a generated background, run for real on tiny random-weight models built once per module: region
retouch (inpainting under a feathered mask, with the cut's model and with a 9-channel inpainting model), the refine
pass, hi-res (tiled image-to-image on the upscaled image), the IP-Adapter style reference and seed variants; each
stage cached on its own, so a changed mask, strength or reference re-runs only what it changes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compositor.backgrounds.diffusion.passes import blend_region, feather_mask, inpaint_window  # noqa: E402
from compositor.errors import CompositorError, SpecError  # noqa: E402
from compositor.spec import Production, load_shot  # noqa: E402
from tests.conftest import REPO, make_production  # noqa: E402

CUT = "sc020_c010"
BASE = """[shot]
frames = 1
[background]
source = "diffusion"
prompt = "a quiet street"
seed = 3
steps = 2
"""

# ----------------------------------------------------------------------------------------------------------------
# Pure ops (no torch)


def test_feather_is_one_on_the_mask_falls_off_and_is_exactly_zero_past_the_feather():
    mask = np.zeros((40, 50), bool)
    mask[10:20, 15:30] = True
    weight = feather_mask(mask, 5)
    assert weight.dtype == np.float32 and (weight[mask] == 1).all()
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert (weight[distance > 6] == 0).all() and (weight[(distance > 0) & (distance <= 5)] > 0).all()
    row = weight[15, 30:40]
    assert (np.diff(row) <= 0).all() and row[0] < 1  # falls off outward
    assert (feather_mask(mask, 0) == mask).all()


def test_blend_keeps_every_unweighted_pixel_exactly():
    rng = np.random.default_rng(1)
    base = rng.random((30, 30, 3), dtype=np.float32)
    painted = rng.random((30, 30, 3), dtype=np.float32)
    weight = np.zeros((30, 30), np.float32)
    weight[5:10, 5:12] = np.linspace(0.1, 1, 7, dtype=np.float32)
    out = blend_region(base, painted, weight)
    assert np.array_equal(out[weight == 0], base[weight == 0])
    assert np.allclose(out[7, 11], painted[7, 11]) and not np.allclose(out[7, 5], base[7, 5])


def test_inpaint_window_holds_the_mask_on_factor_multiples_inside_the_canvas():
    rng = np.random.default_rng(2)
    for _ in range(50):
        w, h = (int(rng.integers(2, 40)) * 8 for _ in range(2))
        support = np.zeros((h, w), bool)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        support[y : y + int(rng.integers(1, 30)), x : x + int(rng.integers(1, 30))] = True
        x0, y0, x1, y1 = inpaint_window(support, (w, h), 64, 8)
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert all(v % 8 == 0 for v in (x0, y0, x1, y1))
        assert x1 - x0 >= min(64, w) and y1 - y0 >= min(64, h)
        ys, xs = np.nonzero(support)
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def test_pass_keys_are_checked_with_their_key_path(tmp_path):
    root = make_production(tmp_path / "p", {CUT: BASE}, edit_extra='[diffusion]\nmodel = "m"\n')

    def problems(extra: str) -> str:
        (root / "shots" / CUT / "shot.toml").write_text(BASE + extra)
        with pytest.raises(SpecError) as e:
            load_shot(Production(root), CUT)
        return str(e.value)

    assert "background.inpaint[0].strength" in problems('inpaint = { mask = "m.png", strength = 0 }\n')
    assert "background.inpaint[1].feather" in problems(
        'inpaint = [{ mask = "m.png" }, { mask = "m.png", feather = 9999 }]\n'
    )
    assert "background.inpaint[0].mask: no such file" in problems('inpaint = { mask = "m.png" }\n')
    assert "background.hires.scale" in problems("hires = { scale = 1 }\n")
    assert "background.refine.stength: unknown key" in problems("refine = { stength = 0.3 }\n")
    assert "background.reference.weights: missing" in problems('reference = "m.png"\n')
    assert "outside" in problems('inpaint = { mask = "../../../elsewhere.png" }\n')
    assert "background.hires: expected a table like { scale = 2" in problems("hires = true\n")
    assert "background.inpaint: expected a table like { mask = " in problems('inpaint = "plates/fix.png"\n')
    text = BASE.replace('"diffusion"', '"procedural"') + 'hires = { scale = 2 }\n'
    (root / "shots" / CUT / "shot.toml").write_text(text)
    with pytest.raises(SpecError, match='hires.*only applies to source = "diffusion"'):
        load_shot(Production(root), CUT)


# ----------------------------------------------------------------------------------------------------------------
# Rendering with tiny models

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from compositor.steps.background import ensure_background  # noqa: E402
from compositor.steps.variants import render_variants  # noqa: E402
from tests.diffusion_fixtures import (  # noqa: E402
    TINY_SIZE,
    build_tiny_inpaint_model,
    build_tiny_ip_adapter,
    build_tiny_model,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-passes")
    base = build_tiny_model(root, controlnet=False)["model"]
    return {
        "model": base,
        "inpaint": build_tiny_inpaint_model(root, base),
        "ip": build_tiny_ip_adapter(root, base),
    }


@pytest.fixture
def prod(tmp_path, models):
    """A production with one diffusion cut (64x64 unless ``canvas`` says) and its plates: ``fix.png`` and
    ``fix2.png`` masks, ``script.png`` a colour script."""
    root = make_production(
        tmp_path / "prod",
        {CUT: BASE},
        edit_extra=f'[diffusion]\nmodel = "{models["model"]}"\ndevice = "cpu"\n',
        size=(TINY_SIZE, TINY_SIZE),
    )
    plates = root / "shots" / CUT / "plates"
    plates.mkdir()
    mask = np.zeros((TINY_SIZE, TINY_SIZE), np.uint8)
    mask[20:36, 24:40] = 255
    cv2.imwrite(str(plates / "fix.png"), mask)
    mask2 = np.zeros_like(mask)
    mask2[44:56, 8:20] = 255
    cv2.imwrite(str(plates / "fix2.png"), mask2)
    script = np.zeros((48, 48, 3), np.uint8)
    script[:, :24] = (40, 90, 230)
    script[:, 24:] = (200, 160, 60)
    cv2.imwrite(str(plates / "script.png"), script)
    return root


def render(root: Path, extra: str = "", spec: str = BASE) -> np.ndarray:
    """Write the cut's spec (``spec`` + ``extra``), make its background, return ``bg.0001.png`` as uint8 BGR."""
    (root / "shots" / CUT / "shot.toml").write_text(spec + extra)
    ensure_background(load_shot(Production(root), CUT))
    return cv2.imread(str(root / "render" / CUT / "bg" / "bg.0001.png"))


def cache(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (root / "render" / "cache").rglob("*.png")}


def provenance(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (root / "render" / "cache").rglob("*.json")]


def inpaint_pass(mask: str = "plates/fix.png", **keys) -> str:
    fields = {"mask": mask, "prompt": "a red door", "feather": 4, **keys}
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in fields.items()) + " }"


def test_inpaint_changes_only_the_feathered_mask_and_each_pass_is_cached(prod, models):
    base = render(prod)
    base_files = cache(prod)
    one = render(prod, f"inpaint = {inpaint_pass()}\n")
    drawn = np.zeros(base.shape[:2], bool)
    drawn[20:36, 24:40] = True
    outside = feather_mask(drawn, 4) == 0
    assert np.array_equal(one[outside], base[outside])  # byte-identical outside the feathered mask
    assert np.abs(one[drawn].astype(int) - base[drawn]).mean() > 2  # regenerated inside
    assert all(cache(prod)[name] == stamp for name, stamp in base_files.items())  # the base was reused

    record = next(r for r in provenance(prod) if r.get("passes"))
    (step,) = record["passes"]
    assert step["pass"] == "inpaint" and step["mask"]["file"].endswith("plates/fix.png")
    assert len(step["mask"]["sha256"]) > 8 and step["feather"] == 4 and "a red door" in step["prompt"]

    # A second pass, with a 9-channel inpainting model, runs on top of the first, which is not redone.
    second = inpaint_pass("plates/fix2.png", model=str(models["inpaint"]), strength=1.0, prompt="")
    two = render(prod, f"inpaint = [{inpaint_pass()}, {second}]\n")
    far = feather_mask(drawn | _mask2(), 4) == 0
    assert np.array_equal(two[far], base[far])
    assert np.array_equal(two[drawn], one[drawn])  # the first pass's region is as it was
    before = cache(prod)
    # A changed second mask re-runs the second pass only: one new file, every earlier stage untouched.
    mask = cv2.imread(str(prod / "shots" / CUT / "plates" / "fix2.png"), cv2.IMREAD_GRAYSCALE)
    mask[40:44, 8:20] = 255
    cv2.imwrite(str(prod / "shots" / CUT / "plates" / "fix2.png"), mask)
    render(prod, f"inpaint = [{inpaint_pass()}, {second}]\n")
    after = cache(prod)
    assert len(after) == len(before) + 1
    assert all(after[name] == stamp for name, stamp in before.items())


def _mask2() -> np.ndarray:
    m = np.zeros((TINY_SIZE, TINY_SIZE), bool)
    m[44:56, 8:20] = True
    return m


def test_a_changed_refine_strength_reruns_the_refine_pass_only(prod):
    base = render(prod)
    base_files = cache(prod)
    soft = render(prod, "refine = { strength = 0.5 }\n")
    strong = render(prod, "refine = { strength = 1.0, steps = 3 }\n")
    assert not np.array_equal(soft, base) and not np.array_equal(strong, soft)
    files = cache(prod)
    assert len(files) == len(base_files) + 2
    assert all(files[name] == stamp for name, stamp in base_files.items())
    refines = [r["passes"][0] for r in provenance(prod) if r.get("passes")]
    assert sorted(r["strength"] for r in refines) == [0.5, 1.0]


def test_hires_generates_small_then_adds_detail_over_tiles_without_seams(prod):
    wide = f"canvas = [{3 * TINY_SIZE}, {TINY_SIZE}]\nhires = {{ scale = 2, strength = 0.5 }}\n"
    (prod / "shots" / CUT / "shot.toml").write_text(BASE + wide)
    seen: list[str] = []
    ensure_background(load_shot(Production(prod), CUT), lambda what, done, total: seen.append(what))
    image = cv2.imread(str(prod / "render" / CUT / "bg" / "bg.0001.png")).astype(np.float32)
    assert image.shape[:2] == (TINY_SIZE, 3 * TINY_SIZE)
    assert any("txt2img 96x32" in line for line in seen)  # the base, at half the canvas, in one tile
    assert any("img2img 192x64, 5 tiles" in line for line in seen)  # detail added over MultiDiffusion tiles
    record = next(r for r in provenance(prod) if r.get("passes"))
    assert record["canvas"] == [3 * TINY_SIZE // 2, TINY_SIZE // 2]
    step = record["passes"][0]
    assert step["pass"] == "hires" and step["tiles"]["count"] == 5 and step["canvas"] == [3 * TINY_SIZE, TINY_SIZE]
    # Tile windows are 64 px wide every 32 px: their edges lie at x = 32, 64, ..., 160. A seam would show as a
    # jump across those columns larger than across the columns at the same place of the VAE's 8 px cells
    # elsewhere. (Random weights predict nearly the same noise for a latent whatever window it is seen in, so this
    # guards against gross seams; that overlapping windows are averaged is test_diffusion's to show.)
    jumps = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))  # jumps[x - 1]: between columns x - 1 and x
    edges = [x - 1 for x in range(32, 3 * TINY_SIZE, 32)]
    interior = [x for x in range(7, 3 * TINY_SIZE - 1, 8) if x not in edges]
    assert jumps[edges].max() <= 1.25 * jumps[interior].max()
    assert jumps[edges].mean() <= 1.25 * jumps[interior].mean()


def test_style_reference_steers_the_image_and_leaves_the_pipeline_as_it_was(prod, models):
    plain = render(prod)
    reference = f'reference = {{ image = "plates/script.png", weights = "{models["ip"]}", scale = 0.8 }}\n'
    steered = render(prod, reference)
    assert np.abs(steered.astype(int) - plain).mean() > 1
    record = next(r for r in provenance(prod) if r.get("reference"))
    assert record["reference"]["scale"] == 0.8 and record["reference"]["weights"]["file"] == "ip-adapter.safetensors"
    # Another reference picture: a new image, from a new key.
    script = prod / "shots" / CUT / "plates" / "script.png"
    cv2.imwrite(str(script), np.full((48, 48, 3), 250, np.uint8))
    before = cache(prod)
    other = render(prod, reference)
    assert len(cache(prod)) == len(before) + 1 and not np.array_equal(other, steered)
    # The IP-Adapter was unloaded: the plain image comes out as before.
    for p in (prod / "render" / "cache").rglob("*.*"):
        p.unlink()
    assert np.array_equal(render(prod), plain)


def test_reference_weights_name_a_file_or_a_folder_holding_one(prod, models, tmp_path):
    import shutil  # noqa: PLC0415

    from compositor.backgrounds.diffusion.passes import reference_weights  # noqa: PLC0415

    def shot_with(weights: Path):
        text = BASE + f'reference = {{ image = "plates/script.png", weights = "{weights}" }}\n'
        (prod / "shots" / CUT / "shot.toml").write_text(text)
        return load_shot(Production(prod), CUT)

    assert reference_weights(shot_with(models["ip"])) == (models["ip"].resolve(), "ip-adapter.safetensors")
    several = tmp_path / "IP-Adapter" / "models"
    shutil.copytree(models["ip"], several)
    shutil.copy(several / "ip-adapter.safetensors", several / "ip-adapter-plus.safetensors")
    with pytest.raises(CompositorError, match="exactly one IP-Adapter weight file.*name the file itself"):
        reference_weights(shot_with(several))
    assert reference_weights(shot_with(several / "ip-adapter-plus.safetensors"))[1] == "ip-adapter-plus.safetensors"
    shutil.rmtree(several / "image_encoder")
    with pytest.raises(CompositorError, match="has no image_encoder/ folder"):
        reference_weights(shot_with(several / "ip-adapter-plus.safetensors"))


def test_variants_are_distinct_seeds_on_a_sheet_and_the_chosen_seed_is_reused(prod):
    (prod / "shots" / CUT / "shot.toml").write_text(BASE)
    shot = load_shot(Production(prod), CUT)
    sheet_path, files = render_variants(shot, 3)
    assert list(files) == [3, 4, 5] and sheet_path == prod / "render" / CUT / "bg" / "variants.png"
    images = [cv2.imread(str(files[s])) for s in files]
    assert all(not np.array_equal(a, b) for i, a in enumerate(images) for b in images[i + 1 :])
    sheet = cv2.imread(str(sheet_path))
    assert sheet.shape[1] > 3 * TINY_SIZE and sheet.shape[0] > TINY_SIZE
    for i, image in enumerate(images):  # each picture on the sheet as rendered, its label's white text under it
        x = 4 + i * (TINY_SIZE + 4)
        assert np.array_equal(sheet[4 : 4 + TINY_SIZE, x : x + TINY_SIZE], image)
        assert (sheet[4 + TINY_SIZE :, x : x + TINY_SIZE] > 200).any()
    before = cache(prod)
    chosen = render(prod, spec=BASE.replace("seed = 3", "seed = 5"))
    assert cache(prod) == before  # picked from the cache: nothing generated
    assert np.array_equal(chosen, images[2])


def test_variants_on_the_command_line(prod):
    from typer.testing import CliRunner  # noqa: PLC0415

    from compositor.cli import app  # noqa: PLC0415

    (prod / "shots" / CUT / "shot.toml").write_text(BASE)
    run = CliRunner().invoke(app, ["--root", str(prod), "bg", CUT, "--variants", "2"])
    assert run.exit_code == 0, run.output
    assert (prod / "render" / CUT / "bg" / "variants.png").is_file() and "seeds 3-4" in run.output
    bad = CliRunner().invoke(app, ["--root", str(prod), "bg", CUT, "--variants", "0"])
    assert isinstance(bad.exception, SpecError) and "--variants: 0 variants" in str(bad.exception)


def test_a_wrong_sized_mask_is_one_line_naming_the_key_in_validate_and_render(prod):
    from compositor.validate import validate_production  # noqa: PLC0415

    cv2.imwrite(str(prod / "shots" / CUT / "plates" / "fix.png"), np.zeros((10, 10), np.uint8))
    (prod / "shots" / CUT / "shot.toml").write_text(BASE + f"inpaint = {inpaint_pass()}\n")
    line = rf"shots/{CUT}/shot.toml: background.inpaint\[0\].mask: 10x10 mask, but the canvas is 64x64"
    assert any(re.match(line, p) for p in validate_production(Production(prod)))
    with pytest.raises(CompositorError, match=line):
        render(prod, f"inpaint = {inpaint_pass()}\n")


# ----------------------------------------------------------------------------------------------------------------
# Through make


def make(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    cli = f"env PYTHONPATH={REPO} {sys.executable} -m compositor"
    return subprocess.run(
        ["make", "-C", str(root), "-f", str(REPO / "Makefile"), f"VENV={sys.prefix}", f"CLI={cli}", *args],
        capture_output=True, text=True, env=env, timeout=900,
    )


def test_a_cut_with_every_pass_renders_through_make_and_a_changed_mask_redoes_that_cut_only(tmp_path, models):
    passes = (
        f"canvas = [{2 * TINY_SIZE}, {TINY_SIZE}]\nhires = {{ scale = 2, strength = 0.5 }}\n"
        f"refine = {{ strength = 0.5 }}\ninpaint = {inpaint_pass()}\n"
    )
    other = "[shot]\nframes = 1\n[background]\nsource = \"procedural\"\n"
    root = make_production(
        tmp_path / "prod",
        {CUT: BASE + passes, "sc020_c020": other},
        edit_extra=f'[diffusion]\nmodel = "{models["model"]}"\ndevice = "cpu"\n',
        size=(TINY_SIZE, TINY_SIZE),
    )
    plates = root / "shots" / CUT / "plates"
    plates.mkdir()
    mask = np.zeros((TINY_SIZE, 2 * TINY_SIZE), np.uint8)
    mask[20:40, 70:100] = 255
    cv2.imwrite(str(plates / "fix.png"), mask)
    cv2.imwrite(str(plates / "script.png"), np.full((32, 32, 3), (30, 120, 220), np.uint8))
    run = make(root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (root / "render" / CUT / f"{CUT}.mp4").is_file() and (root / "render" / "tiny.mp4").is_file()
    stages = sorted(len(r.get("passes", [])) for r in provenance(root) if r["cut"] == CUT)
    assert stages == [0, 1, 2, 3]  # base, hires, refine, inpaint: each cached
    mask[20:40, 60:70] = 255
    cv2.imwrite(str(plates / "fix.png"), mask)
    commands = [line for line in make(root, "-n").stdout.splitlines() if "compositor" in line]
    assert any(f"bg {CUT}" in c for c in commands)
    assert all("sc020_c020" not in c for c in commands)
