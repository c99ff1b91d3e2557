"""Distributed rendering on a Dask cluster (two worker processes on this machine, as a LocalCluster): the same
pixels as a local render, bad input fails with the usual one-line error, a lost worker's chunk is done
again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.errors import CorruptInputError
from compositor.spec import Production, load_shot
from compositor.steps.background import ensure_background
from compositor.steps.composite import render_cut
from tests.conftest import write_grid

distributed = pytest.importorskip("distributed")

from compositor.farm import on_cluster, run_chunks  # noqa: E402

CUT = """
[shot]
frames = 14

[background]
source = "plate"
plate = "plates/bg.png"
canvas = [64, 24]

[camera]
keys = [ { frame = 1, x = 16, y = 12 }, { frame = 14, x = 47.5, y = 12, ease = "in-out" } ]

[[layers]]
name = "fixed"
cels = "cels/A"
timing = "(1 2 3)*"
parallax = 0
position = [2, 2]

[[layers]]
name = "book"
cels = "cels/A"
timing = "1@14"
parallax = 1.3
position = [20, 10.5]
opacity = 0.8
"""


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as local:
        yield local


def _shot(production_factory):
    root = production_factory({"sc010_c010": CUT})
    bg = np.zeros((24, 64, 3), np.uint8)
    bg[:, :, 0] = np.linspace(0, 255, 64)[None, :].astype(np.uint8)
    bg[:, :, 1] = np.linspace(255, 0, 24)[:, None].astype(np.uint8)
    (root / "shots/sc010_c010/plates").mkdir(parents=True)
    cv2.imwrite(str(root / "shots/sc010_c010/plates/bg.png"), bg)
    write_grid(root / "shots/sc010_c010/cels/A/A_0001.png", "RRh.\nRRhh\n.KK.")
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "YY\nYY")
    write_grid(root / "shots/sc010_c010/cels/A/A_0003.png", "hBBh\nWWWW")
    shot = load_shot(Production(root), "sc010_c010")
    ensure_background(shot)
    return shot


def frame_path(shot, number):
    return shot.paths.comp_frame(number)


def comp_folder(shot):
    return shot.paths.comp_folder


def _frames(shot) -> list[np.ndarray]:
    return [cv2.imread(str(frame_path(shot, n)), cv2.IMREAD_UNCHANGED) for n in shot.frame_numbers()]


def _forget_frames(shot) -> None:
    shutil.rmtree(comp_folder(shot))


def test_cluster_render_is_pixel_identical_to_a_local_render(production_factory, cluster):
    shot = _shot(production_factory)
    render_cut(shot, threads=1)
    local = _frames(shot)
    _forget_frames(shot)
    seen = []
    result = render_cut(
        shot,
        progress=lambda d, done, total: seen.append((done, total)) if "cluster" in d else None,
        composite_elsewhere=on_cluster(cluster.scheduler_address),
    )
    assert result.manifest.is_file() and result.composited == list(range(shot.frames))
    remote = _frames(shot)
    assert len(remote) == shot.frames
    assert all(a is not None and np.array_equal(a, b) for a, b in zip(local, remote))
    assert seen[-1] == (shot.frames, shot.frames)  # progress as chunks finish
    assert len(seen) > 2


def test_cli_renders_through_the_scheduler(production_factory, cluster):
    shot = _shot(production_factory)
    render_cut(shot, threads=1)
    local = _frames(shot)
    _forget_frames(shot)
    run = subprocess.run(
        [sys.executable, "-m", "compositor", "render", shot.name, "--scheduler", cluster.scheduler_address],
        cwd=shot.production.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert (comp_folder(shot) / "comp.json").is_file()
    assert all(np.array_equal(a, b) for a, b in zip(local, _frames(shot)))


def test_a_chunk_with_bad_input_fails_the_render_with_one_line(production_factory, cluster):
    shot = _shot(production_factory)
    (shot.folder / "cels/A/A_0003.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    with pytest.raises(CorruptInputError, match="A_0003.png: cannot decode drawing 3"):
        render_cut(shot, composite_elsewhere=on_cluster(cluster.scheduler_address))
    assert not (comp_folder(shot) / "comp.json").exists()
    run = subprocess.run(
        [sys.executable, "-m", "compositor", "render", shot.name, "--scheduler", cluster.scheduler_address],
        cwd=shot.production.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip() == (
        "error: shots/sc010_c010/cels/A/A_0003.png: cannot decode drawing 3 of layer 'fixed' (corrupt or not an image)"
    )


def test_a_lost_workers_chunk_is_rendered_again(production_factory, cluster, tmp_path):
    shot = _shot(production_factory)
    render_cut(shot, threads=1)
    local = _frames(shot)
    _forget_frames(shot)
    todo = list(range(shot.frames))
    marker = tmp_path / "died-once"

    def dies_once_then_renders(root: str, cut: str, indices: list[int]):
        # The first chunk to start kills its worker process, as a machine lost mid-chunk would.
        from compositor.farm import chunk_task  # noqa: PLC0415

        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return chunk_task(root, cut, indices)

    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        run_chunks(client, shot, todo, task=dies_once_then_renders, size=7)
        client.wait_for_workers(2, timeout=60)  # the nanny restarts the lost worker for the next tests
    assert marker.exists()
    assert all(np.array_equal(a, b) for a, b in zip(local, _frames(shot)))


def test_without_dask_the_farm_says_what_to_install(tmp_path):
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from compositor.farm import _distributed\n"
        "from compositor.errors import BackendMissingError\n"
        "try:\n    _distributed()\nexcept BackendMissingError as e:\n    print(e)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert "pip install 'compositor[farm]'" in run.stdout


def test_a_worker_that_kept_its_renderer_sees_a_retouched_drawing(production_factory):
    """A worker keeps its cut's renderer between chunks (decoded drawings, what it composited once): a drawing
    retouched between two chunks must not come back from what it kept."""
    from compositor.steps.composite import render_chunk

    shot = _shot(production_factory)
    root, cut = str(shot.production.root), shot.name
    render_chunk(root, cut, [0, 1, 2, 3])
    cel = shot.production.root / "shots/sc010_c010/cels/A/A_0001.png"
    write_grid(cel, "GGG.\nGGGG\n.GG.")
    os.utime(cel, ns=(cel.stat().st_atime_ns, cel.stat().st_mtime_ns + 10**9))  # a new mtime, whatever the clock
    _forget_frames(shot)
    render_chunk(root, cut, [0, 3])
    retouched = _frames(shot)
    _forget_frames(shot)
    render_cut(load_shot(Production(shot.production.root), cut), threads=1)  # a fresh process's view
    fresh = _frames(shot)
    for n in (0, 3):
        assert np.array_equal(retouched[n], fresh[n]), n
