"""The Blender peer: the benchmark cut composited by Blender's compositor, headless (``blender -b``), on the
same layers, then encoded with the same preset by one ffmpeg over its frame files (the burn-ins, colour
conversion and x264 settings of ``compositor.steps.encode``, as the ffmpeg peer encodes).

The node tree: the painted canvas through a Translate node (the camera), then one Image → Translate → Alpha
Over per layer. A frame-change handler shows each layer's drawing of the frame (each drawing is loaded once,
Blender keeps it) and moves the Translate nodes. Images are read as Non-Color and the display transform is
off, so Blender composites the same 8-bit sRGB values we do (premultiplied over) instead of converting to
linear light; dithering is off; Blender keeps Non-Color images straight, so the Alpha Over nodes premultiply.
Blender 3.4 from Debian's packages (``apt-get install blender``); where it is missing the bench says so.

    python bench/blender_peer.py bench/out/cut96
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compositor.spec import Shot  # noqa: E402
from compositor.steps import burnin, encode  # noqa: E402

SCRIPT = r"""
import bpy, json, sys
cfg = json.load(open(sys.argv[sys.argv.index("--") + 1]))
W, H = cfg["size"]
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
scene = bpy.context.scene
scene.render.engine = "BLENDER_WORKBENCH"
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = W, H, 100
scene.render.fps = cfg["fps"]
scene.frame_start, scene.frame_end = 1, len(cfg["frames"])
scene.render.use_compositing, scene.render.use_sequencer = True, False
scene.render.dither_intensity = 0.0
scene.render.threads_mode = "AUTO"
scene.display_settings.display_device = "None"
scene.view_settings.view_transform = "Standard"
scene.render.image_settings.file_format = "PNG"
scene.render.image_settings.color_mode = "RGB"
scene.render.image_settings.color_depth = "8"
scene.render.filepath = cfg["out"]
scene.use_nodes = True
tree = scene.node_tree
tree.nodes.clear()

def image(path):
    img = bpy.data.images.load(path, check_existing=True)
    img.colorspace_settings.name = "Non-Color"
    img.alpha_mode = "STRAIGHT"
    return img

def placed(img_path):
    node = tree.nodes.new("CompositorNodeImage")
    node.image = image(img_path)
    move = tree.nodes.new("CompositorNodeTranslate")
    tree.links.new(node.outputs["Image"], move.inputs["Image"])
    return node, move

canvas_node, canvas_move = placed(cfg["canvas"])
current = canvas_move.outputs["Image"]
layers = []
for layer in cfg["layers"]:
    node, move = placed(layer["files"][str(layer["drawings"][0])])
    over = tree.nodes.new("CompositorNodeAlphaOver")
    over.use_premultiply = True  # Non-Color images stay straight (unassociated) in Blender
    tree.links.new(current, over.inputs[1])
    tree.links.new(move.outputs["Image"], over.inputs[2])
    current = over.outputs["Image"]
    layers.append((layer, node, move))
out = tree.nodes.new("CompositorNodeComposite")
out.use_alpha = False
tree.links.new(current, out.inputs["Image"])
images = {}

def offset(move, size, x, y):
    # Images are centred on the frame; place the top-left corner at (x, y), screen y pointing down.
    move.inputs["X"].default_value = x - (W - size[0]) / 2
    move.inputs["Y"].default_value = -(y - (H - size[1]) / 2)

def show(scene, *args):
    i = min(max(scene.frame_current - 1, 0), len(cfg["frames"]) - 1)
    frame = cfg["frames"][i]
    offset(canvas_move, cfg["canvas_size"], frame["canvas"][0], frame["canvas"][1])
    for k, (layer, node, move) in enumerate(layers):
        path = layer["files"][str(layer["drawings"][i])]
        if path not in images:
            images[path] = image(path)
        node.image = images[path]
        offset(move, layer["sizes"][str(layer["drawings"][i])], *frame["layers"][k])

bpy.app.handlers.frame_change_pre.append(show)
only = cfg.get("only")
if only:
    for n in only:
        scene.frame_set(n)
        scene.render.filepath = cfg["out"] + f"{n:04d}"
        bpy.ops.render.render(write_still=True)
else:
    bpy.ops.render.render(animation=True)
"""


def available() -> bool:
    return shutil.which("blender") is not None


def config(shot: Shot, out_prefix: str, only: list[int] | None = None) -> dict:
    import cv2  # noqa: PLC0415

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ffmpeg_peer import layer_offsets  # noqa: PLC0415

    from compositor.core.camera import canvas_to_screen, shot_views  # noqa: PLC0415
    from compositor.core.cels import drawings_in, exposure_of  # noqa: PLC0415

    canvas = shot.files["background.plate"]
    frames = [
        {"canvas": [float(t[0]), float(t[1])], "layers": []}
        for t in (canvas_to_screen(v, shot.size)[:, 2] for v in shot_views(shot))
    ]
    layers = []
    for index in range(len(shot.spec.layers)):
        files = drawings_in(shot.files[f"layers[{index}].cels"])
        exposure = exposure_of(shot, index)
        xs, ys = layer_offsets(shot, index)
        for f, x, y in zip(frames, xs, ys):
            f["layers"].append([x, y])
        used = sorted(set(exposure))
        sizes = {}
        for d in used:
            h, w = cv2.imread(str(files[d]), cv2.IMREAD_UNCHANGED).shape[:2]
            sizes[str(d)] = [w, h]
        layers.append({"files": {str(d): str(files[d]) for d in used}, "drawings": exposure, "sizes": sizes})
    h, w = cv2.imread(str(canvas)).shape[:2]
    return {
        "size": list(shot.size),
        "fps": int(round(shot.fps)),
        "canvas": str(canvas),
        "canvas_size": [w, h],
        "frames": frames,
        "layers": layers,
        "out": out_prefix,
        "only": only,
    }


def blender(cfg: dict, folder: Path) -> None:
    (folder / "peer.py").write_text(SCRIPT)
    (folder / "cfg.json").write_text(json.dumps(cfg))
    done = subprocess.run(
        [
            "blender",
            "-b",
            "--factory-startup",
            "-noaudio",
            "--python-exit-code",
            "1",
            "--python",
            str(folder / "peer.py"),
            "--",
            str(folder / "cfg.json"),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise RuntimeError(f"blender failed: {lines[-1] if lines else done.returncode}")


def encode_frames(shot: Shot, pattern: Path, out: Path) -> None:
    """Blender's frame files to a movie with the cut's preset: the filters and x264 settings our segments are
    encoded with (``compositor.steps.encode``), as one stream over the whole cut."""
    import ffmpeg  # noqa: PLC0415

    _, preset = shot.preset(shot.own_preset)
    stream = ffmpeg.input(
        str(pattern), f="image2", framerate=str(encode.frame_rate(shot.fps)), start_number=1
    )
    if preset.burn_in:
        stream = burnin.draw_cut(stream, shot, preset)
    stream = encode.finish_video(stream, preset)
    cmd = (
        stream.output(str(out), **encode.video_output_args(preset, shot.frames))
        .overwrite_output()
        .compile(cmd=encode.ffmpeg_exe())
    )
    encode.run_ffmpeg(cmd, str(out))


def agreement(shot: Shot, indices: list[int]) -> dict[str, float]:
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    renderer = CutRenderer(shot)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        blender(config(shot, str(folder / "f"), [i + 1 for i in indices]), folder)
        worst, means = 0, []
        for index in indices:
            ours = renderer.make_frame(index, write=False).astype(np.int16)
            theirs = cv2.cvtColor(
                cv2.imread(str(folder / f"f{index + 1:04d}.png")), cv2.COLOR_BGR2RGB
            ).astype(np.int16)
            diff = np.abs(ours - theirs)
            worst = max(worst, int(diff.max()))
            means.append(float(diff.mean()))
    return {"max": worst, "mean": sum(means) / len(means)}


def check(shot: Shot) -> dict[str, float]:
    """Agreement with our frames on the first, middle and last frame; raises if more than 4 levels apart."""
    result = agreement(shot, [0, shot.frames // 2, shot.frames - 1])
    print(
        f"Blender peer vs ours on frames 1, {shot.frames // 2 + 1}, {shot.frames}: max {result['max']} levels, "
        f"mean {result['mean']:.3f}"
    )
    if result["max"] > 4:
        raise RuntimeError("it does not make our pixels (more than 4 levels apart): not timed")
    return result


def time_movie(shot: Shot, out: Path) -> float:
    """Blender on the whole cut, then the encode: wall seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = config(shot, str(folder / "frame_"))
        started = time.perf_counter()
        blender(cfg, folder)
        encode_frames(shot, folder / "frame_%04d.png", out)
        return time.perf_counter() - started


def main() -> None:
    from compositor.spec import Production, load_shot  # noqa: PLC0415

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    production = Path(args[0] if args else ROOT / "bench" / "out" / "cut96")
    if not available():
        print("Blender peer: skipped (no blender on PATH; apt-get install blender)")
        return
    shot = load_shot(Production(production.resolve()), "bench_c010")
    if "--time-only" not in sys.argv:
        check(shot)
    seconds = time_movie(shot, production / "blender_peer.mp4")
    print(f"Blender peer: {shot.frames} frames in {seconds:.1f} s = {shot.frames / seconds:.2f} fps")


if __name__ == "__main__":
    main()
