"""The diffusion background backend, run for real on tiny random-weight models built once per session.

The images are noise, but the path is the production one: the spec is loaded by ``load_shot``, the model folder
by diffusers' ``from_pretrained`` through the backend's own loader, and single-tile results are compared with
diffusers' own pipelines step for step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compositor.core import control as ctl  # noqa: E402
from compositor.core.io import read_image, write_image  # noqa: E402
from compositor.errors import CompositorError, CorruptInputError, MissingInputError, SpecError  # noqa: E402
from compositor.spec import Production, load_shot  # noqa: E402
from tests.conftest import make_production  # noqa: E402
from tests.diffusion_fixtures import build_tiny_model  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from compositor.backgrounds import diffusion  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CUT = "sc010_c010"
STEPS = 3


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    # Models this small gain nothing from threads, and lose much when the test run shares its cores.
    torch.set_num_threads(1)
    return build_tiny_model(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture
def make_cut(tmp_path, tiny):
    """Write a production with one diffusion cut and load it: ``make_cut(background_toml, frames=1, ...)``.

    ``setup(plates_folder)`` writes the cut's pictures before the spec is loaded (which checks they exist).
    """

    def factory(
        background: str = "",
        *,
        frames: int = 1,
        size: tuple[int, int] = (64, 64),
        edit_diffusion: str | None = None,
        style: str = "dusk",
        setup=None,
    ):
        if edit_diffusion is None:
            edit_diffusion = f'model = "{tiny["model"]}"\ndevice = "cpu"\nsteps = {STEPS}\n'
        text = (
            f'[shot]\nframes = {frames}\n[background]\nsource = "diffusion"\nstyle = "{style}"\n'
            + textwrap.dedent(background)
        )
        root = make_production(
            tmp_path / "prod", {CUT: text}, edit_extra="[diffusion]\n" + edit_diffusion, size=size
        )
        if setup is not None:
            folder = root / "shots" / CUT / "plates"
            folder.mkdir(parents=True, exist_ok=True)
            setup(folder)
        return load_shot(Production(root), CUT)

    return factory


def plates(shot) -> Path:
    folder = shot.folder / "plates"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def draw_layout(path: Path, size: tuple[int, int], shift: int = 0) -> Path:
    """A layout drawing: dark pencil lines (horizon, a house, a road) on white paper, as an RGB PNG."""
    w, h = size
    img = np.full((h, w, 3), 245, np.uint8)
    cv2.line(img, (0, h * 2 // 3), (w - 1, h * 2 // 3 - 4), (30, 30, 30), 2)
    cv2.rectangle(img, (w // 5 + shift, h // 3), (w // 5 + shift + 18, h * 2 // 3), (20, 20, 20), 2)
    cv2.line(img, (w // 2, h - 1), (w * 3 // 5 + shift, h * 2 // 3), (40, 40, 40), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, img)
    return path


def layout(size=(64, 64), shift: int = 0, name: str = "layout.png"):
    """A ``setup`` for ``make_cut`` that draws ``plates/<name>``."""
    return lambda folder: draw_layout(folder / name, size, shift)


def reload(shot):
    return load_shot(shot.production, CUT)


def components(shot):
    plan = diffusion._plan(shot, 0)
    return plan, diffusion.load_pipeline(plan)


def encoded(plan, loaded):
    """The prompts as the backend encodes them (the style makes them longer than CLIP's 75 tokens, which the
    backend encodes in chunks where diffusers would cut them), for diffusers' pipelines to take as given."""
    from compositor.backgrounds.diffusion import prompts

    with torch.inference_mode():
        both = prompts.encode(loaded.pipe, plan.family, plan.prompt, plan.negative, "cpu", plan.guided)
    uncond, cond = both.embeds.chunk(2)
    return {"prompt_embeds": cond, "negative_prompt_embeds": uncond}


# ----------------------------------------------------------------------------------------------------------------
# Import cost, control images


def test_importing_the_backend_does_not_import_torch():
    code = "import sys, compositor.backgrounds.diffusion, compositor.core.control; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_without_torch_the_message_says_what_to_install(make_cut):
    shot = make_cut('prompt = "a house"\n')
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.modules["torch"] = None  # as if torch were not installed
        from compositor.backgrounds import diffusion
        from compositor.errors import BackendMissingError
        from compositor.spec import Production, load_shot
        try:
            diffusion.describe(load_shot(Production(Path({str(shot.production.root)!r})), {CUT!r}), 0)
        except BackendMissingError as e:
            print(e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == (
        f'shots/{CUT}/shot.toml: background.source: "diffusion" needs torch, diffusers and transformers '
        "(missing: torch); pip install 'compositor[diffusion]'"
    )


def test_line_art_turns_dark_pencil_into_light_lines_on_black(tmp_path):
    layout = read_image(draw_layout(tmp_path / "layout.png", (64, 64)))
    lines = ctl.control_image(layout, "lineart")
    assert lines.shape == (64, 64, 3) and lines.dtype == np.float32
    drawn = layout[:, :, 0] < 0.5
    assert lines[drawn, 0].mean() > 0.6  # the pencil strokes light up
    assert lines[~drawn, 0].mean() < 0.1  # the paper stays black
    edges = ctl.control_image(layout, "canny")
    assert set(np.unique(edges)) <= {0.0, 1.0} and edges.sum() > 0


def test_control_kind_follows_the_controlnet_name():
    assert ctl.control_kind_for("lllyasviel/control_v11p_sd15_canny") == "canny"
    assert ctl.control_kind_for("lllyasviel/control_v11p_sd15s2_lineart_anime") == "lineart"
    assert ctl.control_kind_for("models/controlnet-scribble") == "lineart"


def test_tile_views_cover_the_canvas_with_the_overlap():
    views = diffusion.tile_views(24, 8, 8, 4)
    assert views == [(0, 0, 8, 8), (4, 0, 12, 8), (8, 0, 16, 8), (12, 0, 20, 8), (16, 0, 24, 8)]
    # A length that the stride does not divide: the last window is moved back to end at the border.
    assert diffusion.tile_views(21, 8, 8, 4)[-1] == (13, 0, 21, 8)
    assert diffusion.tile_views(6, 5, 8, 4) == [(0, 0, 6, 5)]


# ----------------------------------------------------------------------------------------------------------------
# txt2img


def test_txt2img_same_seed_same_pixels_other_seed_other_pixels(make_cut):
    shot = make_cut('prompt = "a quiet street"\nseed = 7\n')
    a = diffusion.paint(shot, 0)
    b = diffusion.paint(shot, 0)
    assert a.shape == (64, 64, 4) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert np.all(a[:, :, 3] == 1) and a.min() >= 0 and a.max() <= 1
    other = diffusion.paint(make_cut('prompt = "a quiet street"\nseed = 8\n'), 0)
    assert np.abs(other - a).max() > 0.01


def test_txt2img_matches_diffusers_own_pipeline(make_cut):
    from diffusers import StableDiffusionPipeline

    shot = make_cut('prompt = "a quiet street"\nseed = 3\n')
    plan, loaded = components(shot)
    ours = diffusion.paint(shot, 0)[:, :, :3]
    reference = StableDiffusionPipeline(**loaded.pipe.components)(
        **encoded(plan, loaded),
        height=64,
        width=64,
        num_inference_steps=STEPS,
        guidance_scale=plan.guidance,
        generator=torch.Generator("cpu").manual_seed(3),
        output_type="np",
    ).images[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)


EXPECTED_SLICE = np.array(
    [0.41475, 0.34845, 0.43087, 0.44064, 0.37198, 0.43157, 0.48581, 0.44788, 0.49640], dtype=np.float32
)
"""Recorded when long prompts began to be encoded whole (the style's suffix no longer cut off)."""


def test_txt2img_pixels_match_the_stored_slice(make_cut):
    """A regression check on the numbers, as diffusers' tests do (bottom-right 3×3 of the red channel)."""
    image = diffusion.paint(make_cut('prompt = "a quiet street"\nseed = 0\n'), 0)
    np.testing.assert_allclose(image[-3:, -3:, 0].ravel(), EXPECTED_SLICE, atol=2e-3)


def test_canvas_not_a_multiple_of_8_is_generated_larger_and_cropped(make_cut):
    shot = make_cut("canvas = [70, 60]\n", size=(64, 56))
    assert diffusion.describe(shot, 0)["generated"] == [72, 64]
    assert diffusion.paint(shot, 0).shape == (60, 70, 4)


def test_progress_counts_every_tile_of_every_step(make_cut):
    calls = []
    diffusion.paint(make_cut("canvas = [192, 64]\n"), 0, lambda d, c, t: calls.append((d, c, t)))
    total = STEPS * 5
    assert calls[0][1:] == (0, total) and calls[-1][1:] == (total, total)
    assert [c for _, c, _ in calls] == list(range(total + 1))
    assert calls[0][0] == "sc010_c010 background: txt2img 192x64, 5 tiles, cpu float32"


@pytest.mark.parametrize("scheduler", ["euler_a", "dpm++2m_karras", "UniPCMultistepScheduler"])
def test_other_schedulers_are_deterministic(make_cut, scheduler):
    shot = make_cut(f'scheduler = "{scheduler}"\ncanvas = [128, 64]\n')
    a = diffusion.paint(shot, 0)
    assert np.isfinite(a).all()
    assert np.array_equal(a, diffusion.paint(shot, 0))


# ----------------------------------------------------------------------------------------------------------------
# img2img and ControlNet from a layout


def test_img2img_from_a_layout_matches_diffusers_img2img(make_cut):
    from diffusers import StableDiffusionImg2ImgPipeline

    shot = make_cut(
        'prompt = "a house"\nseed = 5\nlayout = "plates/layout.png"\nstrength = 0.7\n', setup=layout()
    )
    drawing = plates(shot) / "layout.png"
    plan, loaded = components(shot)
    assert plan.mode == "img2img"
    ours = diffusion.paint(shot, 0)[:, :, :3]
    init = ctl.flatten_on_white(read_image(drawing))
    reference = StableDiffusionImg2ImgPipeline(**loaded.pipe.components)(
        **encoded(plan, loaded),
        image=torch.from_numpy(init.transpose(2, 0, 1)[None].copy()),
        strength=0.7,
        num_inference_steps=STEPS,
        guidance_scale=plan.guidance,
        generator=torch.Generator("cpu").manual_seed(5),
        output_type="np",
    ).images[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)

    draw_layout(drawing, (64, 64), shift=20)  # another drawing, same file name
    moved = diffusion.paint(reload(shot), 0)[:, :, :3]
    assert np.abs(moved - ours).max() > 0.01


def test_controlnet_follows_the_layout_and_matches_diffusers_controlnet(make_cut, tiny):
    from diffusers import StableDiffusionControlNetPipeline

    shot = make_cut(
        f'prompt = "a house"\nseed = 9\nlayout = "plates/layout.png"\ncontrolnet = "{tiny["controlnet"]}"\n',
        setup=layout(),
    )
    drawing = plates(shot) / "layout.png"
    plan, loaded = components(shot)
    assert plan.mode == "controlnet" and plan.control_kind == "lineart"
    ours = diffusion.paint(shot, 0)[:, :, :3]
    control = ctl.control_image(read_image(drawing), "lineart")
    reference = StableDiffusionControlNetPipeline(**loaded.pipe.components, controlnet=loaded.controlnet)(
        **encoded(plan, loaded),
        image=torch.from_numpy(control.transpose(2, 0, 1)[None].copy()),
        height=64,
        width=64,
        num_inference_steps=STEPS,
        guidance_scale=plan.guidance,
        generator=torch.Generator("cpu").manual_seed(9),
        output_type="np",
    ).images[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)

    draw_layout(drawing, (64, 64), shift=20)
    assert np.abs(diffusion.paint(reload(shot), 0)[:, :, :3] - ours).max() > 0.01


def test_controlnet_with_strength_below_one_also_starts_from_the_layout(make_cut, tiny):
    shot = make_cut(
        f'layout = "plates/layout.png"\ncontrolnet = "{tiny["controlnet"]}"\nstrength = 0.6\n', setup=layout()
    )
    assert diffusion.describe(shot, 0)["mode"] == "controlnet+img2img"
    assert diffusion.paint(shot, 0).shape == (64, 64, 4)


def test_a_layout_of_another_resolution_but_the_same_shape_is_resized(make_cut):
    shot = make_cut('layout = "plates/layout.png"\n', setup=layout((128, 128)))
    assert diffusion.paint(shot, 0).shape == (64, 64, 4)


# ----------------------------------------------------------------------------------------------------------------
# Wide canvases: MultiDiffusion


def _column_jumps(image: np.ndarray) -> np.ndarray:
    """Mean absolute difference between each column and the next, over rows and colour channels."""
    return np.abs(np.diff(image[:, :, :3], axis=1)).mean(axis=(0, 2))


def test_panorama_three_tiles_wide_has_no_seam(make_cut):
    shot = make_cut('prompt = "a long street"\ncanvas = [192, 64]\nseed = 11\n')
    plan = diffusion._plan(shot, 0)
    assert plan.tile == 64 and plan.overlap == 32 and len(plan.views) == 5
    image = diffusion.paint(shot, 0)
    assert image.shape == (64, 192, 4)
    jumps = _column_jumps(image)
    # Window edges fall every 32 px; compare them with the columns at the same place in the VAE's 8 px cell.
    edges = [x - 1 for x in (32, 64, 96, 128, 160)]
    interior = [x for x in range(7, 191, 8) if x not in edges]
    assert jumps[edges].max() <= 1.25 * jumps[interior].max()
    assert jumps[edges].mean() <= 1.25 * jumps[interior].mean()


@pytest.mark.parametrize("scheduler", [None, "dpm++2m", "euler"])
def test_overlapping_latents_are_the_average_of_each_tiles_own_update(make_cut, scheduler):
    """One MultiDiffusion step equals running the scheduler on every tile alone and averaging where they overlap."""
    shot = make_cut('prompt = "a long street"\ncanvas = [192, 64]\n')
    plan, loaded = components(shot)
    views = list(plan.views)
    with torch.inference_mode():
        cond, _ = loaded.pipe.encode_prompt(plan.prompt, "cpu", 1, False)

        def predict(x, t, view):
            return loaded.pipe.unet(x, t, encoder_hidden_states=cond, return_dict=False)[0]

        def fresh():
            s = diffusion.make_scheduler(loaded, scheduler)
            s.set_timesteps(STEPS)
            return s

        latents = torch.randn((1, 4, 8, 24), generator=torch.Generator().manual_seed(0))
        s = fresh()
        t = s.timesteps[0]
        joint = diffusion.denoise_tiles(latents, s.timesteps[:1], s, views, predict)

        total = torch.zeros_like(latents)
        count = torch.zeros_like(latents)
        for view in views:
            x0, y0, x1, y1 = view
            window = latents[:, :, y0:y1, x0:x1]
            own = fresh().step(predict(window, t, view), t, window, return_dict=False)[0]
            total[:, :, y0:y1, x0:x1] += own
            count[:, :, y0:y1, x0:x1] += 1
    assert count.max() == 2  # every column is shared by two windows except at the ends
    torch.testing.assert_close(joint, total / count, atol=1e-5, rtol=1e-5)


def test_panorama_with_a_layout_and_controlnet_guides_every_tile(make_cut, tiny):
    shot = make_cut(
        f'canvas = [192, 64]\nlayout = "plates/layout.png"\ncontrolnet = "{tiny["controlnet"]}"\nseed = 2\n',
        setup=layout((192, 64)),
    )
    a = diffusion.paint(shot, 0)
    # Change the drawing only in the right-most tile: the far left, covered by one window, must not change.
    drawing = plates(shot) / "layout.png"
    img = cv2.imread(str(drawing))
    cv2.circle(img, (176, 24), 10, (0, 0, 0), 2)
    cv2.imwrite(str(drawing), img)
    b = diffusion.paint(reload(shot), 0)
    assert np.abs(a - b)[:, 150:].max() > 0.01
    assert np.abs(a - b)[:, :24].max() < np.abs(a - b)[:, 150:].max()


# ----------------------------------------------------------------------------------------------------------------
# Per-frame (video-to-video)


def _write_sequence(folder: Path, frames: list[np.ndarray]) -> None:
    for i, img in enumerate(frames, start=1):
        write_image(folder / f"bg.{i:04d}.png", img)


def test_per_frame_runs_img2img_on_every_plate_frame_with_one_seed(make_cut):
    rng = np.random.default_rng(0)
    first = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    second = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    shot = make_cut(
        'per_frame = true\nplate = "plates/bg.%04d.png"\nseed = 4\n',
        frames=3,
        setup=lambda folder: _write_sequence(folder, [first, second, first]),
    )
    assert diffusion.frame_count(shot) == 3
    descriptions = [diffusion.describe(shot, i) for i in range(3)]
    assert [d["source"]["frame"] for d in descriptions] == [1, 2, 3]
    assert descriptions[0]["source"]["sha256"] == descriptions[2]["source"]["sha256"]
    assert descriptions[0]["source"]["sha256"] != descriptions[1]["source"]["sha256"]
    assert descriptions[0]["strength"] == diffusion.DEFAULT_STRENGTH_PER_FRAME

    out = [diffusion.paint(shot, i) for i in range(3)]
    loaded = diffusion._LOADED[0]
    assert np.array_equal(out[0], out[2])  # same picture, same seed: same pixels
    assert np.abs(out[0] - out[1]).max() > 0.01
    streamed = list(diffusion.paint_frames(shot, [0, 1, 2]))
    assert all(np.array_equal(a, b) for a, b in zip(out, streamed))
    assert diffusion._LOADED[0] is loaded  # the pipeline was loaded once for every frame


def test_per_frame_over_a_video_plate(make_cut):
    def setup(folder):
        writer = cv2.VideoWriter(str(folder / "bg.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 24, (64, 64))
        for i in range(3):
            writer.write(np.full((64, 64, 3), 60 + 70 * i, np.uint8))
        writer.release()

    shot = make_cut('per_frame = true\nplate = "plates/bg.avi"\nseed = 4\n', frames=3, setup=setup)
    digests = [diffusion.describe(shot, i)["source"]["sha256"] for i in range(3)]
    assert len(set(digests)) == 3  # decoded frames, each its own
    seeking = [diffusion.paint(shot, i) for i in (2, 0)]
    streamed = list(diffusion.paint_frames(shot, [0, 2]))
    assert np.array_equal(seeking[1], streamed[0]) and np.array_equal(seeking[0], streamed[1])


def test_per_frame_with_controlnet_draws_each_frames_lines(make_cut, tiny):
    def setup(folder):
        drawings = [
            cv2.imread(str(draw_layout(folder / f"l{i}.png", (64, 64), shift=10 * i))) for i in range(2)
        ]
        _write_sequence(folder, [d[:, :, ::-1] for d in drawings])

    shot = make_cut(
        f'per_frame = true\nplate = "plates/bg.%04d.png"\ncontrolnet = "{tiny["controlnet"]}"\n',
        frames=2,
        setup=setup,
    )
    assert diffusion.describe(shot, 1)["mode"] == "controlnet+img2img"
    a, b = diffusion.paint(shot, 0), diffusion.paint(shot, 1)
    assert np.abs(a - b).max() > 0.01


# ----------------------------------------------------------------------------------------------------------------
# describe: the cache key


def test_describe_changes_with_what_changes_the_pixels_and_nothing_else(make_cut, tiny, tmp_path):
    base_text = 'prompt = "a house"\nseed = 1\nlayout = "plates/layout.png"\n'
    shot = make_cut(base_text, setup=layout())
    drawing = plates(shot) / "layout.png"
    base = diffusion.describe(shot, 0)
    json.dumps(base)  # JSON-able
    assert base == diffusion.describe(shot, 0)
    assert base["prompt"].startswith("anime background art, a house, dusk")
    assert base["negative_prompt"].startswith("people, text, watermark")
    assert base["model"]["source"] == str(tiny["model"]) and len(base["model"]["fingerprint"]) == 64
    assert base["versions"]["torch"] and base["versions"]["diffusers"]

    def described(text, edit_diffusion=None):
        s = make_cut(text, edit_diffusion=edit_diffusion)
        return diffusion.describe(s, 0)

    assert described(base_text.replace("a house", "a barn"))["prompt"] != base["prompt"]
    assert described(base_text.replace("seed = 1", "seed = 2"))["seed"] == 2
    assert described(base_text + "strength = 0.5\n")["strength"] == 0.5
    assert (
        described(base_text + 'retouch = "plates/layout.png"\n') == base
    )  # the retouch is laid on afterwards
    assert described(base_text + "tile = 128\n") == base  # the canvas fits one tile either way

    os.utime(drawing, (1, 1))  # touched, same content: same key
    assert described(base_text) == base
    draw_layout(drawing, (64, 64), shift=5)
    assert described(base_text)["source"]["sha256"] != base["source"]["sha256"]
    draw_layout(drawing, (64, 64))

    copy = tmp_path / "model-copy"
    shutil.copytree(tiny["model"], copy)
    same = described(base_text, f'model = "{copy}"\ndevice = "cpu"\nsteps = {STEPS}\n')
    assert same["model"]["fingerprint"] == base["model"]["fingerprint"]
    weights = copy / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    changed = described(base_text, f'model = "{copy}"\ndevice = "cpu"\nsteps = {STEPS}\n')
    assert changed["model"]["fingerprint"] != base["model"]["fingerprint"]

    txt = described('prompt = "a house"\n')
    assert txt["strength"] is None and described('prompt = "a house"\nstrength = 0.3\n') == txt


def test_settings_come_from_the_cut_over_the_style_over_the_edit(make_cut, tiny):
    style = REPO / "templates" / "styles" / "dusk.toml"
    shot = make_cut(
        'prompt = "a house"\n', edit_diffusion=f'model = "{tiny["model"]}"\nsteps = 4\nguidance = 5.0\n'
    )
    (shot.production.templates / "styles" / "dusk.toml").write_text(
        style.read_text() + "\n[diffusion]\nsteps = 6\n"
    )
    d = diffusion.describe(load_shot(shot.production, CUT), 0)
    assert (d["steps"], d["guidance"]) == (6, 5.0)
    (shot.folder / "shot.toml").write_text((shot.folder / "shot.toml").read_text() + "steps = 2\n")
    assert diffusion.describe(load_shot(shot.production, CUT), 0)["steps"] == 2


def test_a_model_in_the_hugging_face_cache_is_used_offline(make_cut, tiny, tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    repo = cache / "models--studio--tiny-sd"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny["model"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    shot = make_cut('prompt = "a house"\n', edit_diffusion=f'model = "studio/tiny-sd"\nsteps = {STEPS}\n')
    assert diffusion.describe(shot, 0)["model"] == {"hub_id": "studio/tiny-sd", "revision": commit}
    assert diffusion.paint(shot, 0).shape == (64, 64, 4)


def test_a_relative_model_path_is_found_from_the_production_root(make_cut, tiny):
    shot = make_cut('model = "models/tiny"\n')
    (shot.production.root / "models").mkdir()
    (shot.production.root / "models" / "tiny").symlink_to(tiny["model"])
    assert diffusion.describe(shot, 0)["model"]["source"] == "models/tiny"


# ----------------------------------------------------------------------------------------------------------------
# Errors: one line, naming the file and the key


def _error(shot, kind=CompositorError, index=0) -> str:
    with pytest.raises(kind) as caught:
        diffusion.describe(shot, index)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_error_missing_model_folder(make_cut):
    message = _error(make_cut('model = "models/x"\n'), MissingInputError)
    assert message == (
        f"shots/{CUT}/shot.toml: background.model: no diffusers model at 'models/x' (looked in models/x and the "
        "Hugging Face cache) and no network to fetch it; set background.model to a local folder in diffusers layout "
        "(model_index.json)"
    )


def test_error_missing_model_names_edit_toml_when_set_there(make_cut):
    message = _error(make_cut("", edit_diffusion='model = "no/such-model"\n'), MissingInputError)
    assert message.startswith("shots/edit.toml: diffusion.model: no diffusers model at 'no/such-model'")


def test_error_folder_without_model_index(make_cut, tmp_path):
    (tmp_path / "not-a-model").mkdir()
    message = _error(make_cut(f'model = "{tmp_path / "not-a-model"}"\n'), MissingInputError)
    assert "is not a diffusers model folder (no model_index.json)" in message


def test_error_model_folder_mixing_two_families_or_of_another_kind(make_cut, tiny, tmp_path):
    copy = tmp_path / "mixed"
    shutil.copytree(tiny["model"], copy)
    index = json.loads((copy / "model_index.json").read_text())
    index.update(
        {"_class_name": "StableDiffusionXLPipeline", "text_encoder_2": ["transformers", "CLIPTextModel"]}
    )
    (copy / "model_index.json").write_text(json.dumps(index))
    message = _error(make_cut(f'model = "{copy}"\n'), CorruptInputError)
    assert "model_index.json says StableDiffusionXLPipeline but its UNet is not an SDXL UNet" in message
    index["_class_name"] = "StableDiffusion3Pipeline"
    (copy / "model_index.json").write_text(json.dumps(index))
    message = _error(make_cut(f'model = "{copy}"\n'), SpecError)
    assert "is a StableDiffusion3Pipeline model; this backend runs Stable Diffusion 1.x/2.x and SDXL-family" in message


def test_error_missing_controlnet(make_cut):
    shot = make_cut('layout = "plates/layout.png"\ncontrolnet = "models/lineart"\n', setup=layout())
    message = _error(shot, MissingInputError)
    assert message.startswith(
        f"shots/{CUT}/shot.toml: background.controlnet: no diffusers model at 'models/lineart'"
    )
    assert message.endswith("(config.json)")


def test_error_controlnet_without_a_layout(make_cut, tiny):
    message = _error(make_cut(f'controlnet = "{tiny["controlnet"]}"\n'), SpecError)
    assert "background.controlnet: a ControlNet needs a picture to follow; set background.layout" in message


def test_error_controlnet_for_another_base_model(make_cut, tiny, tmp_path):
    copy = tmp_path / "cn"
    shutil.copytree(tiny["controlnet"], copy)
    config = json.loads((copy / "config.json").read_text())
    config["cross_attention_dim"] = 1024
    (copy / "config.json").write_text(json.dumps(config))
    shot = make_cut(f'layout = "plates/layout.png"\ncontrolnet = "{copy}"\n', setup=layout())
    assert "was trained for another base model (text width 1024, the model's is 32)" in _error(
        shot, SpecError
    )


def test_error_tile_not_a_multiple_of_8(make_cut):
    assert _error(make_cut("tile = 60\n"), SpecError) == (
        f"shots/{CUT}/shot.toml: background.tile: tile 60 is not a multiple of 8 (the VAE's downsampling factor); "
        "use 56 or 64"
    )
    assert "must be smaller than the tile (64)" in _error(make_cut("overlap = 64\n"), SpecError)


def test_error_strength_too_low_for_the_steps(make_cut):
    message = _error(make_cut('layout = "plates/layout.png"\nstrength = 0.1\n', setup=layout()), SpecError)
    assert (
        "background.strength: 0.1 of 3 steps leaves no step to run; raise strength to at least 0.333"
        in message
    )


def test_error_layout_of_another_shape(make_cut):
    message = _error(make_cut('layout = "plates/layout.png"\n', setup=layout((128, 64))), SpecError)
    assert "background.layout: the drawing is 128x64 (2.00:1) but the canvas is 64x64 (1.00:1)" in message


def test_error_unreadable_layout(make_cut):
    shot = make_cut(
        'layout = "plates/layout.png"\n', setup=lambda folder: (folder / "layout.png").write_bytes(b"x")
    )
    _error(shot, CorruptInputError)


def test_errors_of_per_frame(make_cut):
    assert "background.per_frame: needs a plate" in _error(
        make_cut("per_frame = true\n", frames=2), SpecError
    )

    shot = make_cut(
        'per_frame = true\nplate = "plates/still.png"\n', frames=2, setup=layout(name="still.png")
    )
    assert "is a still image; per_frame needs a video or an image sequence" in _error(shot, SpecError)

    two = [np.zeros((64, 64, 3), np.uint8)] * 2
    shot = make_cut(
        'per_frame = true\nplate = "plates/bg.%04d.png"\n', frames=3, setup=lambda f: _write_sequence(f, two)
    )
    assert (
        "background.plate: 2 frames, but the cut has 3 and per_frame needs one plate frame per frame"
        in _error(shot, SpecError)
    )

    shot = make_cut(
        'per_frame = true\nplate = "plates/bg.%04d.png"\nlayout = "plates/still.png"\n',
        frames=2,
        setup=lambda f: (_write_sequence(f, two), draw_layout(f / "still.png", (64, 64))),
    )
    assert "background.layout: per_frame takes each canvas's composition from the plate's frames" in _error(
        shot, SpecError
    )


def test_error_unknown_scheduler(make_cut):
    assert "background.scheduler: unknown scheduler 'fastest' (have: ddim, pndm" in _error(
        make_cut('scheduler = "fastest"\n'), SpecError
    )


def test_error_bad_style_prompt(make_cut):
    shot = make_cut()
    style = shot.production.templates / "styles" / "dusk.toml"
    style.write_text(style.read_text().replace("negative =", "negativ ="))
    with pytest.raises(SpecError) as error:  # styles are checked, every section, when the cut is loaded
        load_shot(shot.production, CUT)
    assert str(error.value) == (
        "templates/styles/dusk.toml: prompt.negativ: unknown key (check its spelling)"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_error_cuda_asked_for_without_a_gpu(make_cut):
    assert 'background.device: "cuda", but torch' in _error(make_cut('device = "cuda"\n'), SpecError)
