"""A cut's background temporal pass on a Dask cluster (``render --scheduler``, ``bg --scheduler``, ``make FARM=``):
its windows run on the workers and write the same files, pixel for pixel, as a local run, and the same qc.json."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

import compositor
from compositor.core.io import read_image
from compositor.steps.background import ensure_background

distributed = pytest.importorskip("distributed")

from compositor.steps.background_farm import steady_on_cluster  # noqa: E402

SIZE = (48, 32)
FRAMES = 10

CUT = """
[shot]
frames = 10

[background]
source = "plate"
plate = "plates/bg.%04d.png"
stylize = "paint"

[temporal]
strength = 0.5
window = 3
{extra}
"""


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None, silence_logs=50
        ) as cluster,
        distributed.Client(cluster) as local,
    ):
        yield local


def _cut(production_factory, extra: str = ""):
    root = production_factory({"sc010_c010": CUT.format(extra=extra)}, size=SIZE)
    rng = np.random.default_rng(5)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE[1] + 8, SIZE[0] + 24, 3)).astype(np.float32), (0, 0), 2)
    texture = np.clip(texture * 2 - 128, 0, 255).astype(np.uint8)
    folder = root / "shots/sc010_c010/plates"
    folder.mkdir(parents=True)
    for i in range(FRAMES):  # a pan, two pixels a frame, and a frame where the camera jumps
        x = 2 * i if i != 6 else 20
        cv2.imwrite(str(folder / f"bg.{i + 1:04d}.png"), np.ascontiguousarray(texture[4 : 4 + SIZE[1], x : x + SIZE[0]]))
    return root, compositor.cut(compositor.load(root), "sc010_c010")


def _result(shot) -> tuple[list[np.ndarray], bytes]:
    frames = [read_image(shot.paths.bg_frame(i)) for i in range(FRAMES)]
    return frames, shot.paths.qc.read_bytes()


def _forget(shot) -> None:
    shutil.rmtree(shot.paths.bg_folder)


@pytest.mark.parametrize("extra", ["", "paint_every = 4"])
def test_the_pass_on_a_cluster_writes_what_a_local_run_writes(production_factory, client, extra: str) -> None:
    _, shot = _cut(production_factory, extra)
    local_manifest = ensure_background(shot)
    local, local_qc = _result(shot)
    _forget(shot)
    seen: list[str] = []
    manifest = ensure_background(shot, lambda what, done, total: seen.append(what), steady=steady_on_cluster(client))
    assert any("on the cluster" in s for s in seen)  # the windows ran there (four windows of three frames)
    frames, qc = _result(shot)
    assert manifest == local_manifest
    assert all(np.array_equal(a, b) for a, b in zip(local, frames))
    assert qc == local_qc  # the links across the joins measured as a local run measures them
    assert np.abs(frames[1] - frames[0]).max() > 0  # not trivially equal: the frames differ


def test_bg_scheduler_runs_the_pass_on_the_cluster(production_factory, client) -> None:
    from typer.testing import CliRunner

    from compositor.cli import app

    root, shot = _cut(production_factory)
    ensure_background(shot)
    local, local_qc = _result(shot)
    _forget(shot)
    address = client.scheduler.address
    run = CliRunner().invoke(app, ["--root", str(root), "bg", shot.name, "--scheduler", address])
    assert run.exit_code == 0, run.output
    assert all(np.array_equal(a, b) for a, b in zip(local, _result(shot)[0]))
    assert _result(shot)[1] == local_qc
    # make FARM=...: the background's rule passes the scheduler on, as the render's does
    from compositor.deps import dependency_file

    text = dependency_file(compositor.load(root))
    assert f"$(CLI) bg {shot.name} $(FARM_FLAG)" in text
