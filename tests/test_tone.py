"""Light and tone on cels: shadows clipped to their cel, glows that grow with strength, para, lens light,
per-layer colour correction and alpha-add, as pure functions and through a cut's compositor."""

from __future__ import annotations

import numpy as np
import pytest

from compositor.core.ops import blend
from compositor.core.photography import tone
from compositor.errors import SpecError
from compositor.spec import Production, load_shot
from compositor.spec.models import ValueKey
from compositor.steps.background import ensure_background
from compositor.steps.composite import CutRenderer
from tests.conftest import premultiplied, write_flat, write_grid

CEL = """
......
.RRRR.
.RhhR.
.RRRR.
......
"""


@pytest.mark.parametrize("mode", ["multiply", "screen", "add", "over"])
@pytest.mark.parametrize("softness", [0.0, 3.0])
def test_a_shadow_never_reaches_outside_its_cel(mode, softness):
    cel = premultiplied(CEL)
    matte = np.ones(cel.shape[:2], np.float32)  # a matte drawn over everything, paper included
    shaded = tone.tone(cel, tone.hex_colour("#203040"), matte, 1.0, mode, softness)
    assert np.array_equal(shaded[:, :, 3], cel[:, :, 3])  # coverage never changes
    outside = cel[:, :, 3] == 0
    assert not shaded[outside].any()
    assert (shaded[:, :, :3] <= shaded[:, :, 3:4] + 1e-6).all()
    # and over any backdrop, nothing outside the cel differs from the unshaded cel's
    backdrop = np.random.default_rng(1).random(cel.shape).astype(np.float32)
    backdrop[:, :, 3] = 1
    backdrop[:, :, :3] = np.minimum(backdrop[:, :, :3], 1)
    assert np.array_equal(blend(backdrop, shaded)[outside], blend(backdrop, cel)[outside])


def test_a_shadow_darkens_where_its_matte_is_and_nowhere_else():
    cel = premultiplied("WWWW\nWWWW")
    matte = np.array([[1, 1, 0, 0], [1, 1, 0, 0]], np.float32)
    shaded = tone.tone(cel, np.array([0.5, 0.5, 0.5], np.float32), matte, 0.6, "multiply")
    assert np.allclose(shaded[:, :2, :3], 1 - 0.6 * 0.5)
    assert np.array_equal(shaded[:, 2:], cel[:, 2:])


def test_para_and_shades_at_opacity_zero_are_the_identity():
    cel = premultiplied(CEL)
    ramp = tone.gradient((6, 5), "linear", (0, 0), (6, 0), [tone.hex_colour("#ff0000"), tone.hex_colour("#0000ff")])
    for mode in ("multiply", "screen", "add", "over"):
        assert np.array_equal(tone.tone(cel, ramp, None, 0.0, mode), cel)
        assert np.array_equal(tone.tone(cel, ramp, np.ones((5, 6), np.float32), 0.0, mode), cel)


def test_a_gradient_runs_from_its_first_colour_to_its_last():
    red, blue = tone.hex_colour("#ff0000"), tone.hex_colour("#0000ff")
    linear = tone.gradient((100, 4), "linear", (0, 0), (100, 0), [red, blue])
    assert np.allclose(linear[:, 0], red, atol=0.01) and np.allclose(linear[:, -1], blue, atol=0.01)
    assert (np.diff(linear[0, :, 2]) >= 0).all()  # monotonic
    radial = tone.gradient((41, 41), "radial", (20.5, 20.5), (40.5, 20.5), [red, blue])
    assert np.allclose(radial[20, 20], red, atol=0.05) and np.allclose(radial[0, 0], blue)


def test_a_glows_added_light_grows_with_its_strength():
    matte = np.zeros((40, 40), np.float32)
    matte[18:22, 18:22] = 1
    frame = np.zeros((40, 40, 4), np.float32)
    frame[:, :, :3] = 0.1
    frame[:, :, 3] = 1
    colour = tone.hex_colour("#ffcc66")
    added = []
    for strength in (0.0, 0.25, 0.5, 1.0, 2.0):
        light = tone.transmitted_light(matte, colour, strength, core=2, halo=10)
        added.append(float((blend(frame, light, "add") - frame)[:, :, :3].sum()))
    assert added[0] == 0
    assert all(b > a for a, b in zip(added, added[1:]))
    # a hot core: the centre is whiter than the halo's colour; the halo reaches well past the source
    light = tone.transmitted_light(matte, colour, 1.0, core=2, halo=10)
    assert light[20, 20, 2] > colour[2] + 0.3 and light[20, 34, 3] > 0.01


def test_flicker_follows_its_keys_and_a_seeded_jitter_repeats():
    keys = [ValueKey(frame=1, value=1.0), ValueKey(frame=5, value=0.2)]
    assert tone.flicker(keys, 1) == 1.0 and tone.flicker(keys, 5) == pytest.approx(0.2)
    assert tone.flicker(keys, 3) == pytest.approx(0.6)
    assert tone.flicker([], 9) == 1.0
    jittered = [tone.flicker([], n, 0.5, seed=3) for n in range(10)]
    assert jittered == [tone.flicker([], n, 0.5, seed=3) for n in range(10)]
    assert len(set(jittered)) > 1 and all(0.5 <= v <= 1.0 for v in jittered)


@pytest.mark.parametrize("kind", ["flare", "leak"])
def test_lens_light_is_nothing_at_strength_zero_and_brightest_at_its_place(kind):
    colour = tone.hex_colour("#ffd9a0")
    assert not tone.lens_light((64, 36), 10, 10, colour, 20, 0.0, kind).any()
    light = tone.lens_light((64, 36), 10, 10, colour, 20, 1.0, kind)
    assert light[10, 10, 3] == light[:, :, 3].max()
    assert (light[:, :, :3] <= light[:, :, 3:4] + 1e-6).all()


def test_adjust_defaults_are_the_identity_and_saturation_zero_is_grey():
    cel = premultiplied(CEL)
    assert np.allclose(tone.adjust_colour(cel), cel, atol=1e-6)
    grey = tone.adjust_colour(cel, saturation=0.0)
    assert np.allclose(grey[:, :, 0], grey[:, :, 1], atol=1e-6) and np.array_equal(grey[:, :, 3], cel[:, :, 3])
    dark = tone.adjust_colour(cel, black=0.5, white=1.0)
    assert np.allclose(dark[1, 1, :3], [1, 0, 0])  # 1 stays 1, 0 stays 0


def test_alpha_add_of_two_half_cels_is_full_coverage():
    cel = premultiplied("RRRR\nRRRR")
    empty = np.zeros_like(cel)
    summed = tone.alpha_add(tone.alpha_add(empty, cel, 0.5), cel, 0.5)
    assert np.allclose(summed[:, :, 3], 1) and np.allclose(summed[:, :, :3], [1, 0, 0])
    # where `over` lets a quarter through
    over = blend(blend(empty, cel, "over", 0.5), cel, "over", 0.5)
    assert np.allclose(over[:, :, 3], 0.75)


# ------------------------------------------------------------------------------------------------------------
# Through a cut's compositor

TONED = """
[shot]
frames = 4

[background]
source = "plate"
plate = "plates/bg.png"

[[layers]]
name = "cel"
cels = "cels/A"
timing = "1@4"
position = [4, 4]

[[layers.shade]]
cels = "cels/shadow"
timing = "1 1 2 2"
colour = "#000000"
opacity = 1.0
softness = 1.5
"""


def _toned(production_factory, text=TONED):
    root = production_factory({"c": text}, size=(16, 12))
    write_flat(root / "shots/c/plates/bg.png", (16, 12), (0, 255, 0))
    write_grid(root / "shots/c/cels/A/A_0001.png", "WWWW\nWWWW\nWWWW\nWWWW")
    write_grid(root / "shots/c/cels/B/B_0001.png", "RRRR\nRRRR\nRRRR\nRRRR")
    # matte 1 covers the whole sheet (and, softened, spreads past the cel); matte 2 nothing
    write_grid(root / "shots/c/cels/shadow/s_0001.png", "KKKK\nKKKK\nKKKK\nKKKK")
    write_grid(root / "shots/c/cels/shadow/s_0002.png", "....\n....\n....\n....")
    shot = load_shot(Production(root), "c")
    ensure_background(shot)
    return shot


def test_a_shade_with_its_own_timing_darkens_only_its_cel_and_enters_the_frame_key(production_factory):
    shot = _toned(production_factory)
    renderer = CutRenderer(shot)
    shaded, plain = renderer.frame(0), renderer.frame(2)
    inside = np.zeros((12, 16), bool)
    inside[4:8, 4:8] = True
    assert np.allclose(plain[inside][:, :3], 1)  # matte 2 is empty: the white cel as drawn
    assert (shaded[inside][:, :3] < 0.9).all()  # matte 1 darkens it
    assert np.array_equal(shaded[~inside], plain[~inside])  # and nothing around it: the background untouched
    assert np.allclose(shaded[~inside][:, :3], [0, 1, 0], atol=1 / 255)
    keys = renderer.frame_keys()
    assert keys[0] == keys[1] and keys[1] != keys[2]
    assert np.array_equal(renderer.compose_reference(0, renderer.backdrop.canvas(0)), shaded)


def test_two_half_cels_with_alpha_add_hide_the_background(production_factory):
    text = """
    [shot]
    frames = 1

    [background]
    source = "plate"
    plate = "plates/bg.png"

    [[layers]]
    name = "out"
    cels = "cels/A"
    timing = "1"
    position = [4, 4]
    opacity = 0.5
    blend = "alpha-add"

    [[layers]]
    name = "in"
    cels = "cels/B"
    timing = "1"
    position = [4, 4]
    opacity = 0.5
    blend = "alpha-add"
    """
    shot = _toned(production_factory, text)
    frame = CutRenderer(shot).frame(0)
    assert np.allclose(frame[4:8, 4:8, :3], [1, 0.5, 0.5], atol=1e-5)  # half white + half red, no green
    assert np.allclose(frame[0, 0, :3], [0, 1, 0], atol=1 / 255)


def test_para_light_and_lens_render_and_para_at_opacity_zero_changes_nothing(production_factory):
    base = TONED.split("[[layers.shade]]")[0]
    lit = base + """
[[layers]]
name = "lamp"
cels = "cels/B"
timing = "1@4"
position = [0, 0]
light = { colour = "#ffcc66", strength = 1.0, halo = 6, flicker = [ { frame = 1, value = 1.0 }, { frame = 4, value = 0.0 } ] }

[[para]]
layers = ["cel"]
shape = "linear"
start = [0, 0]
end = [16, 0]
colours = ["#ff0000", "#0000ff"]
opacity = 0.0
"""
    shot = _toned(production_factory, lit)
    assert shot.name == "c" and shot.paths.comp_frame(1).parent.parent.name == "c"
    renderer = CutRenderer(shot)
    frames = [renderer.frame(i) for i in range(4)]
    assert frames[0][:, :, :3].sum() > frames[1][:, :, :3].sum() > frames[3][:, :, :3].sum()
    assert len(set(renderer.frame_keys())) == 4  # the flicker is in the keys
    # the para is at opacity 0: the frames are those of the same cut without it
    (shot.production.root / "shots/c/shot.toml").write_text(lit.split("[[para]]")[0])
    without = CutRenderer(load_shot(Production(shot.production.root), "c"))
    assert all(np.array_equal(without.frame(i), frames[i]) for i in range(4))


@pytest.mark.parametrize(
    "extra, where",
    [
        ('fill = { gap = 2 }', "layers[0].fill"),
        ('fill = { colour = "red" }', "layers[0].fill.colour"),
        ('adjust = { black = 0.8, white = 0.2 }', "layers[0].adjust"),
        ('shade = [ { cels = "cels/nowhere" } ]', "layers[0].shade[0].cels"),
        ('shade = [ { cels = "cels/A", blend = "dodge" } ]', "layers[0].shade[0].blend"),
        ('light = { halo = 0 }', "layers[0].light.halo"),
        ('shade = [ { cels = "cels/A", timing = "1@9" } ]', "layers[0].shade[0].timing"),
        ('light = { flicker = [ { frame = 3, value = 1 }, { frame = 2, value = 1 } ] }', "layers[0].light.flicker"),
        ('blend = "plus"', "layers[0].blend"),
    ],
)
def test_tone_spec_errors_name_the_file_and_key(production_factory, extra, where):
    text = TONED.split("[[layers.shade]]")[0].replace('position = [4, 4]', f'position = [4, 4]\n{extra}')
    root = production_factory({"c": text}, size=(16, 12))
    write_flat(root / "shots/c/plates/bg.png", (16, 12), (0, 255, 0))
    write_grid(root / "shots/c/cels/A/A_0001.png", "W")
    with pytest.raises(SpecError) as e:
        load_shot(Production(root), "c")
    assert f"shots/c/shot.toml: {where}" in str(e.value)


@pytest.mark.parametrize(
    "table, where",
    [
        ('[[para]]\nlayers = ["nobody"]\nend = [0, 5]', "para[0].layers"),
        ('[[para]]\nstart = [1, 1]\nend = [1, 1]', "para[0]"),
        ('[[para]]\ncolours = ["#ffffff"]', "para[0].colours"),
        ('[[lens]]\nkeys = []', "lens[0].keys"),
        ('[[lens]]\nkind = "bokeh"\nkeys = [ { frame = 1, x = 0, y = 0 } ]', "lens[0].kind"),
    ],
)
def test_para_and_lens_spec_errors_name_the_file_and_key(production_factory, table, where):
    root = production_factory({"c": TONED.split("[[layers.shade]]")[0] + "\n" + table + "\n"}, size=(16, 12))
    write_flat(root / "shots/c/plates/bg.png", (16, 12), (0, 255, 0))
    write_grid(root / "shots/c/cels/A/A_0001.png", "W")
    with pytest.raises(SpecError) as e:
        load_shot(Production(root), "c")
    assert f"shots/c/shot.toml: {where}" in str(e.value)


def test_validate_and_make_know_the_mattes(production_factory):
    from compositor.deps import dependency_file
    from compositor.validate import validate_production

    shot = _toned(production_factory)
    root = shot.production.root
    assert "cels/shadow/s_0002.png" in dependency_file(Production(root))
    assert validate_production(Production(root)) == []
    (root / "shots/c/cels/shadow/s_0002.png").unlink()
    problems = validate_production(Production(root))
    assert len(problems) == 1 and "shots/c/shot.toml: layers[0].shade[0].timing" in problems[0]
    assert "matte drawing 2 has no file" in problems[0]


def test_a_matte_not_drawn_on_its_cels_sheet_is_a_one_line_error(production_factory):
    shot = _toned(production_factory)
    write_grid(shot.production.root / "shots/c/cels/shadow/s_0002.png", "KKK\nKKK")
    renderer = CutRenderer(shot)
    with pytest.raises(SpecError) as e:
        renderer.frame(2)
    assert str(e.value).startswith("shots/c/cels/shadow/s_0002.png: layers[0].shade[0].cels: the matte is 3x2 px")
    assert "\n" not in str(e.value)
