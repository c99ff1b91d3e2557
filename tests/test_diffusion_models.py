"""Models of the diffusion background beyond a Stable Diffusion 1.x folder: SDXL (a diffusers folder or one
single-file checkpoint in the original key layout), LoRAs laid over a model with a weight, prompts longer than
CLIP's 77 tokens, the configs shipped for single files, and the one-line errors for files of the wrong kind.

Everything runs for real on tiny random-weight models built once per session (``tests/diffusion_fixtures.py``):
diffusers' own ``from_pretrained``, ``from_single_file`` and ``load_lora_weights`` load them through the backend's
loader, offline.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compositor.errors import CompositorError, CorruptInputError, MissingInputError, SpecError  # noqa: E402
from compositor.spec import Production, load_shot  # noqa: E402
from tests.conftest import REPO, make_production  # noqa: E402
from tests.diffusion_fixtures import (  # noqa: E402
    TINY_SIZE,
    build_tiny_model,
    build_tiny_sdxl,
    save_original_sd_checkpoint,
)

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from compositor.backgrounds import diffusion  # noqa: E402
from compositor.backgrounds.diffusion import checkpoints, prompts  # noqa: E402

CUT = "x010"
PLAIN_STYLE = 'description = "no prompt fragments"\n[prompt]\nprefix = ""\nsuffix = ""\nnegative = ""\n'


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-models")
    models = build_tiny_sdxl(root)
    models["sd"] = build_tiny_model(root, controlnet=True)["model"]
    models["sd_controlnet"] = root / "controlnet"
    return models


@pytest.fixture
def make_cut(tmp_path, tiny):
    """``make_cut(background_toml, style="plain")``: a production with one SDXL diffusion cut, loaded."""

    def factory(background: str = "", *, style: str = "plain", model: str | None = None, setup=None):
        model = str(tiny["model"]) if model is None else model
        text = f'[shot]\nframes = 1\n[background]\nsource = "diffusion"\nstyle = "{style}"\nseed = 4\n' + textwrap.dedent(
            background
        )
        edit = f'[diffusion]\nmodel = "{model}"\ndevice = "cpu"\nsteps = 2\n'
        root = make_production(tmp_path / "prod", {CUT: text}, edit_extra=edit, size=(TINY_SIZE, TINY_SIZE))
        (root / "templates" / "styles" / "plain.toml").write_text(PLAIN_STYLE)
        if setup is not None:
            setup(root)
        return load_shot(Production(root), CUT)

    return factory


def error(shot, kind=CompositorError) -> str:
    with pytest.raises(kind) as info:
        diffusion.describe(shot, 0)
    message = str(info.value)
    assert "\n" not in message
    return message


def draw_layout(root: Path) -> None:
    layout = np.full((TINY_SIZE, TINY_SIZE, 3), 255, np.uint8)
    cv2.line(layout, (0, 40), (63, 25), (0, 0, 0), 2)
    (root / "shots" / CUT / "plates").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / "shots" / CUT / "plates" / "layout.png"), layout)


# ----------------------------------------------------------------------------------------------------------------
# SDXL, from a folder and from one file


def test_sdxl_txt2img_matches_diffusers_own_sdxl_pipeline(make_cut):
    from diffusers import StableDiffusionXLPipeline

    shot = make_cut('prompt = "a quiet street"\n')
    plan = diffusion._plan(shot, 0)
    assert plan.family == "sdxl" and plan.mode == "txt2img" and plan.model.file is None
    ours = diffusion.paint(shot, 0)[:, :, :3]
    loaded = diffusion.load_pipeline(plan)
    reference = StableDiffusionXLPipeline(**loaded.pipe.components)(
        "a quiet street",
        height=TINY_SIZE,
        width=TINY_SIZE,
        num_inference_steps=2,
        guidance_scale=plan.guidance,
        generator=torch.Generator("cpu").manual_seed(4),
        output_type="np",
    ).images[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_single_file_loads_the_same_weights_as_the_folder(make_cut, tiny):
    folder_plan = diffusion._plan(make_cut(), 0)
    folder = {name: getattr(diffusion.load_pipeline(folder_plan).pipe, name).state_dict() for name in
              ("unet", "vae", "text_encoder", "text_encoder_2")}
    shot = make_cut(f'config = "{tiny["model"]}"\n', model=str(tiny["checkpoint"]))
    plan = diffusion._plan(shot, 0)
    assert plan.family == "sdxl" and plan.model.file == tiny["checkpoint"].resolve()
    pipe = diffusion.load_pipeline(plan).pipe
    for name, weights in folder.items():
        mine = getattr(pipe, name).state_dict()
        assert mine.keys() == weights.keys(), name
        assert all(torch.equal(mine[k], weights[k]) for k in weights), name
    described = diffusion.describe(shot, 0)["model"]
    assert described["source"] == str(tiny["checkpoint"]) and len(described["file"]) == 64


def test_an_sd_single_file_loads_as_its_folder_and_paints_the_same(make_cut, tiny, tmp_path):
    checkpoint = save_original_sd_checkpoint(tiny["sd"], tmp_path / "sd.safetensors")
    folder_shot = make_cut('prompt = "a house"\n', model=str(tiny["sd"]))
    shot = make_cut(f'prompt = "a house"\nconfig = "{tiny["sd"]}"\n', model=str(checkpoint))
    assert diffusion._plan(shot, 0).family == "sd"
    np.testing.assert_allclose(diffusion.paint(shot, 0), diffusion.paint(folder_shot, 0), atol=1e-5)


def test_a_checkpoint_marked_v_pred_gets_a_v_prediction_scheduler(make_cut, tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(tiny["checkpoint"]))
    save_file({**state, "v_pred": torch.zeros(0), "ztsnr": torch.zeros(0)}, str(tmp_path / "vpred.safetensors"))
    shot = make_cut(f'config = "{tiny["model"]}"\n', model=str(tmp_path / "vpred.safetensors"))
    loaded = diffusion.load_pipeline(diffusion._plan(shot, 0))
    assert loaded.pipe.scheduler.config.prediction_type == "v_prediction"
    assert loaded.pipe.scheduler.config.rescale_betas_zero_snr
    assert diffusion.make_scheduler(loaded, "dpm++2m").config.prediction_type == "v_prediction"


def test_sdxl_img2img_and_controlnet_match_diffusers_own_sdxl_pipelines(make_cut, tiny):
    from diffusers import StableDiffusionXLControlNetPipeline, StableDiffusionXLImg2ImgPipeline

    from compositor.core import control as ctl
    from compositor.core.io import read_image

    shot = make_cut('prompt = "a house"\nlayout = "plates/layout.png"\nstrength = 0.6\n', setup=draw_layout)
    plan = diffusion._plan(shot, 0)
    assert plan.mode == "img2img"
    ours = diffusion.paint(shot, 0)[:, :, :3]
    loaded = diffusion.load_pipeline(plan)
    drawing = read_image(shot.files["background.layout"])
    common = dict(num_inference_steps=2, guidance_scale=plan.guidance, output_type="np")
    reference = StableDiffusionXLImg2ImgPipeline(**loaded.pipe.components)(
        "a house",
        image=torch.from_numpy(ctl.flatten_on_white(drawing).transpose(2, 0, 1)[None].copy()),
        strength=0.6,
        generator=torch.Generator("cpu").manual_seed(4),
        **common,
    ).images[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)

    shot = make_cut(f'prompt = "a house"\nlayout = "plates/layout.png"\ncontrolnet = "{tiny["controlnet"]}"\n',
                    setup=draw_layout)
    plan = diffusion._plan(shot, 0)
    assert plan.mode == "controlnet"
    ours = diffusion.paint(shot, 0)[:, :, :3]
    loaded = diffusion.load_pipeline(plan)
    control = ctl.control_image(drawing, "lineart")
    reference = StableDiffusionXLControlNetPipeline(**loaded.pipe.components, controlnet=loaded.controlnet)(
        "a house",
        image=torch.from_numpy(control.transpose(2, 0, 1)[None].copy()),
        height=TINY_SIZE,
        width=TINY_SIZE,
        generator=torch.Generator("cpu").manual_seed(4),
        **common,
    ).images[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_sdxl_controlnet_follows_the_layout(make_cut, tiny):
    cut = f'prompt = "a house"\nlayout = "plates/layout.png"\ncontrolnet = "{tiny["controlnet"]}"\n'
    shot = make_cut(cut, setup=draw_layout)
    plan = diffusion._plan(shot, 0)
    assert plan.mode == "controlnet" and plan.family == "sdxl"
    with_lines = diffusion.paint(shot, 0)
    layout = shot.files["background.layout"]
    blank = np.full((TINY_SIZE, TINY_SIZE, 3), 255, np.uint8)
    cv2.imwrite(str(layout), blank)
    assert np.abs(diffusion.paint(load_shot(shot.production, CUT), 0) - with_lines).max() > 0.01


def test_the_inpaint_pipeline_of_each_family_shares_the_loaded_weights(make_cut, tiny):
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline

    loaded = diffusion.load_pipeline(diffusion._plan(make_cut(), 0))
    xl = diffusion.task_pipeline(loaded, "inpaint")
    assert isinstance(xl, StableDiffusionXLInpaintPipeline) and xl.unet is loaded.pipe.unet
    loaded = diffusion.load_pipeline(diffusion._plan(make_cut(model=str(tiny["sd"])), 0))
    sd = diffusion.task_pipeline(loaded, "inpaint")
    assert isinstance(sd, StableDiffusionInpaintPipeline) and sd.text_encoder is loaded.pipe.text_encoder


# ----------------------------------------------------------------------------------------------------------------
# LoRA


def test_lora_weight_changes_the_pixels_and_the_key_and_zero_is_the_base(make_cut, tiny):
    base = diffusion.paint(make_cut(), 0)
    pictures, keys = {}, {}
    for weight in (0.0, 0.5, 1.0):
        shot = make_cut(f'lora = [{{ path = "{tiny["lora"]}", weight = {weight} }}]\n')
        pictures[weight] = diffusion.paint(shot, 0)
        keys[weight] = json.dumps(diffusion.describe(shot, 0), sort_keys=True)
    assert np.abs(pictures[0.0] - base).max() < 1e-5  # a LoRA at weight 0 adds nothing
    assert np.abs(pictures[0.5] - base).max() > 0.01
    assert np.abs(pictures[1.0] - pictures[0.5]).max() > 0.01
    assert len(set(keys.values())) == 3
    assert "lora" not in diffusion.describe(make_cut(), 0)  # without LoRAs the key is as before them
    # the LoRA is taken off again for a cut without it, without reloading the model
    assert np.abs(diffusion.paint(make_cut(), 0) - base).max() == 0


def test_lora_from_the_style_and_a_changed_file_changes_the_key(make_cut, tiny, tmp_path):
    copy = tmp_path / "studio.safetensors"
    shutil.copy(tiny["lora"], copy)
    style = PLAIN_STYLE + f'[diffusion]\nlora = [{{ path = "{copy}", weight = 0.8 }}]\n'

    def with_style(root):
        (root / "templates" / "styles" / "studio.toml").write_text(style)

    shot = make_cut(style="studio", setup=with_style)
    before = diffusion.describe(shot, 0)
    assert before["lora"][0]["weight"] == 0.8
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0xFF  # another training run: other weights, same name
    copy.write_bytes(bytes(data))
    assert diffusion.describe(shot, 0)["lora"] != before["lora"]


def test_error_lora_for_another_base_and_a_model_given_as_lora(make_cut, tiny):
    message = error(make_cut(f'lora = [{{ path = "{tiny["lora"]}" }}]\n', model=str(tiny["sd"])), SpecError)
    assert "background.lora[0].path:" in message
    assert "was trained for a model with text width 80, but the model's is 32" in message
    message = error(make_cut(f'lora = [{{ path = "{tiny["checkpoint"]}" }}]\n'), SpecError)
    assert "holds no LoRA weights" in message
    assert "no LoRA file 'nope.safetensors'" in error(make_cut('lora = [{ path = "nope.safetensors" }]\n'), MissingInputError)


# ----------------------------------------------------------------------------------------------------------------
# Long prompts


LONG = ", ".join(
    ["misty pine forest", "old stone bridge", "river", "evening light", "moss on the rails", "paper lanterns", "crows",
     "wet cobblestones", "distant hill", "dim rain"]
)
"""120 tokens for the tiny models' tokenizer (one a character; spaces separate words)."""


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_a_long_prompt_reaches_the_text_encoder_whole(make_cut, tiny, kind):
    shot = make_cut(model=str(tiny["sd"] if kind == "sd" else tiny["model"]))
    plan = diffusion._plan(shot, 0)
    pipe = diffusion.load_pipeline(plan).pipe
    chunks = prompts.chunk_ids(pipe.tokenizer, LONG)
    assert sum(map(len, chunks)) == 120 and [len(c) for c in chunks] == [65, 55]
    assert pipe.tokenizer.decode(chunks[0]).endswith(",")  # the first chunk ends after a comma, not mid-tag
    with torch.inference_mode():
        whole = prompts.encode(pipe, plan.family, LONG, "", "cpu", guided=False)
        head, head_pooled = prompts.encode_ids(pipe, plan.family, [chunks[0]], "cpu")
        tail, _ = prompts.encode_ids(pipe, plan.family, [chunks[1]], "cpu")
        empty, _ = prompts.encode_ids(pipe, plan.family, [[]], "cpu")
    assert whole.embeds.shape[1] == 2 * 77
    torch.testing.assert_close(whole.embeds[:, :77], head)
    torch.testing.assert_close(whole.embeds[:, 77:], tail)  # the tail, encoded as a text of its own
    assert (tail - empty).abs().max() > 1e-3 and (tail - head).abs().max() > 1e-3  # ... and not padding
    if kind == "sdxl":
        torch.testing.assert_close(whole.pooled, head_pooled)  # pooled from the first chunk


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_a_prompt_of_one_chunk_is_encoded_as_diffusers_encodes_it(make_cut, tiny, kind):
    shot = make_cut(model=str(tiny["sd"] if kind == "sd" else tiny["model"]))
    plan = diffusion._plan(shot, 0)
    pipe = diffusion.load_pipeline(plan).pipe
    with torch.inference_mode():
        ours = prompts.encode(pipe, plan.family, "a quiet street", "blurry", "cpu", guided=True)
        theirs = pipe.encode_prompt("a quiet street", device="cpu", num_images_per_prompt=1,
                                    do_classifier_free_guidance=True, negative_prompt="blurry")
    if kind == "sd":
        torch.testing.assert_close(ours.embeds, torch.cat([theirs[1], theirs[0]]))
    else:
        torch.testing.assert_close(ours.embeds, torch.cat([theirs[1], theirs[0]]))
        torch.testing.assert_close(ours.pooled, torch.cat([theirs[3], theirs[2]]))


def test_a_long_prompt_enters_the_key_and_a_short_one_keeps_its_old_key(make_cut):
    assert "prompt_encoding" not in diffusion.describe(make_cut('prompt = "a quiet street"\n'), 0)
    assert diffusion.describe(make_cut(f'prompt = "{LONG}"\n'), 0)["prompt_encoding"].startswith("chunks of 75")


# ----------------------------------------------------------------------------------------------------------------
# Shipped configs, reading checkpoints, errors


def test_the_shipped_configs_have_clips_real_vocabulary_and_sdxls_architecture():
    from transformers import CLIPTokenizer

    folder = checkpoints.shipped_config("sdxl")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), subfolder="tokenizer")
    assert len(tokenizer) == 49408
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert CLIPTokenizer.from_pretrained(str(folder), subfolder="tokenizer_2").pad_token_id == 0
    unet = json.loads((folder / "unet" / "config.json").read_text())
    assert unet["cross_attention_dim"] == 2048 and unet["addition_embed_type"] == "text_time"
    sd15 = json.loads((checkpoints.shipped_config("sd") / "unet" / "config.json").read_text())
    assert sd15["cross_attention_dim"] == 768 and sd15["sample_size"] == 64


def test_a_ckpt_is_read_for_its_keys_and_shapes_like_a_safetensors(tmp_path):
    state = {
        "model.diffusion_model.input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3),
        "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": torch.zeros(77, 8),
        "first_stage_model.decoder.conv_in.weight": torch.zeros(2, 2, 3, 3),
    }
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "m.ckpt")
    shapes = checkpoints.read_shapes(tmp_path / "m.ckpt", "w")
    assert shapes == {k: tuple(v.shape) for k, v in state.items()}
    assert checkpoints.checkpoint_family(shapes, "w", "m.ckpt") == ("sd", None)


def test_error_single_file_that_does_not_fit_the_shipped_configs(make_cut, tiny):
    message = error(make_cut(model=str(tiny["checkpoint"])), SpecError)
    assert "does not fit the shipped configs of its family (first block 16 channels, text width 80; they say 320" in (
        message
    )


def test_error_files_of_the_wrong_kind(make_cut, tiny, tmp_path):
    from safetensors.torch import save_file

    assert "is a LoRA, not a model; list it under lora" in error(make_cut(model=str(tiny["lora"])), SpecError)
    vae = tmp_path / "vae.safetensors"
    save_file({"encoder.down.0.block.0.conv1.weight": torch.zeros(1)}, str(vae))
    assert "is a VAE on its own" in error(make_cut(model=str(vae)), SpecError)
    refiner = tmp_path / "refiner.safetensors"
    save_file({"model.diffusion_model.out.2.weight": torch.zeros(1),
               "conditioner.embedders.0.model.positional_embedding": torch.zeros(1)}, str(refiner))
    assert "is an SDXL refiner" in error(make_cut(model=str(refiner)), SpecError)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert "is a .txt file; a model is a diffusers folder or a .safetensors/.ckpt checkpoint" in error(
        make_cut(model=str(notes)), SpecError
    )


def test_error_corrupt_checkpoint(make_cut, tiny, tmp_path):
    cut_short = tmp_path / "short.safetensors"
    cut_short.write_bytes(tiny["checkpoint"].read_bytes()[:4096])
    assert "is cut short" in error(make_cut(model=str(cut_short)), CorruptInputError)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 10**12) + b"x" * 100)
    message = error(make_cut(model=str(garbage)), CorruptInputError)
    assert message.endswith("is neither a .safetensors file nor a PyTorch checkpoint (damaged, or another format)")


def test_error_controlnet_of_the_other_family(make_cut, tiny):
    shot = make_cut(f'prompt = "a"\nlayout = "plates/layout.png"\ncontrolnet = "{tiny["sd_controlnet"]}"\n',
                    setup=draw_layout)
    message = error(shot, SpecError)
    assert "is a ControlNet for Stable Diffusion 1.x/2.x, but the model" in message
    assert "is SDXL; use a ControlNet made for the model's family" in message


def test_error_config_of_the_other_family(make_cut, tiny):
    shot = make_cut(f'config = "{tiny["sd"]}"\n', model=str(tiny["checkpoint"]))
    message = error(shot, SpecError)
    assert "background.config:" in message
    assert "describes a Stable Diffusion 1.x/2.x model but" in message and "is SDXL" in message


def test_error_inpainting_folder_as_model(make_cut, tiny, tmp_path):
    copy = tmp_path / "inpaint"
    shutil.copytree(tiny["model"], copy)
    config = json.loads((copy / "unet" / "config.json").read_text())
    config["in_channels"] = 9
    (copy / "unet" / "config.json").write_text(json.dumps(config))
    assert "has a 9-channel UNet (an inpainting or depth model)" in error(make_cut(model=str(copy)), SpecError)


# ----------------------------------------------------------------------------------------------------------------
# Through make: an SDXL single-file cut with a LoRA, a ControlNet cut; a LoRA weight regenerates one cut only


def make(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    cli = f"{sys.executable} -m compositor"
    return subprocess.run(
        # this interpreter's environment: make finds it installed and builds no other
        ["make", "-C", str(root), "-f", str(REPO / "Makefile"), f"VENV={sys.prefix}", f"CLI={cli}", *args],
        capture_output=True, text=True, env=env, timeout=900,
    )


def cache_files(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (root / "render" / "cache").rglob("*.png")}


@pytest.fixture(scope="module")
def production(tmp_path_factory, tiny) -> Path:
    root = tmp_path_factory.mktemp("sdxl_make") / "prod"
    head = '[shot]\nframes = 1\n[background]\nsource = "diffusion"\nstyle = "dusk"\nseed = 2\nsteps = 2\n'
    cuts = {
        "x_single": head + f'prompt = "{LONG}"\nmodel = "models/sdxl.safetensors"\nconfig = "models/sdxl"\n'
        'lora = [{ path = "models/lora.safetensors", weight = 0.8 }]\n',
        "p_sky": '[shot]\nframes = 1\n[background]\nsource = "procedural"\n',
    }
    edit = '\n[diffusion]\nmodel = "models/sdxl"\ndevice = "cpu"\n'
    make_production(root, cuts, size=(TINY_SIZE, TINY_SIZE), edit_extra=edit)
    shutil.copytree(tiny["model"], root / "models" / "sdxl")
    for name in ("checkpoint", "lora"):
        shutil.copy(tiny[name], root / "models" / tiny[name].name)
    run = make(root, *CUTS)  # the cuts only: the screening cut adds time and nothing to test here
    assert run.returncode == 0, run.stdout + run.stderr
    return root


CUTS = ("x_single", "p_sky")
"""An SDXL cut from one checkpoint file with a LoRA and a long prompt, and a procedural cut beside it (the ControlNet
and folder paths of SDXL are tested in-process above: each cut through make costs a process that imports torch)."""


def test_sdxl_cuts_render_through_make_with_provenance(production):
    for cut in CUTS:
        assert len(list((production / "render" / cut / "comp").glob("*.png"))) == 1
    records = {r["cut"]: r for r in map(json.loads, map(Path.read_text, (production / "render/cache").rglob("*.json")))}
    assert records["x_single"]["lora"][0]["weight"] == 0.8
    assert records["x_single"]["prompt_encoding"].startswith("chunks of 75")
    assert LONG in records["x_single"]["prompt"]
    # replacing the checkpoint or a LoRA under the same name re-runs the background step (its key then decides)
    rule = next(line for line in (production / "render/deps.mk").read_text().splitlines()
                if line.startswith("render/x_single/bg/"))
    assert "models/sdxl.safetensors" in rule and "models/lora.safetensors" in rule


def test_a_cached_or_procedural_background_imports_no_torch(production, tmp_path):
    copy = tmp_path / "prod"
    shutil.copytree(production, copy, symlinks=True)  # `bg` touches its outputs: leave the module's production be
    code = textwrap.dedent(
        """
        import sys
        from compositor.cli import main
        for cut in ("x_single", "p_sky"):
            sys.argv = ["compositor", "bg", cut]
            try:
                main()
            except SystemExit as e:
                assert not e.code, e.code
        print("torch" in sys.modules, "diffusers" in sys.modules)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], cwd=copy, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "False"]  # (the last line: bg prints what it made before it)


def test_a_changed_lora_weight_regenerates_that_cut_only(production):
    before = cache_files(production)
    spec = production / "shots/x_single/shot.toml"
    spec.write_text(spec.read_text().replace("weight = 0.8", "weight = 0.4"))
    commands = [line for line in make(production, "-n", *CUTS).stdout.splitlines() if "compositor" in line]
    assert any("bg x_single" in c for c in commands)
    assert all("p_sky" not in c for c in commands)
    run = make(production, *CUTS)
    assert run.returncode == 0, run.stderr
    after = cache_files(production)
    assert len(after) == len(before) + 1
    assert all(after[name] == stamp for name, stamp in before.items())
