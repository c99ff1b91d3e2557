"""Rendering a cut on a Dask distributed cluster: frame chunks spread over the workers, as render farms do.

``compositor render <cut> --scheduler tcp://host:8786`` (``make FARM=tcp://host:8786``) comes here. The
workers see the production on shared storage at the same path as this machine and have the same ``compositor``
installed; each renders a chunk of frames with ``comp.render_chunk``, the very function a local render runs in
its pool of processes, and writes the frame files (each with its key) itself. When every chunk is in, this
machine encodes the stale movie segments from the frame files and writes ``comp.json``; the screening cut
follows as usual.

* A worker that is lost while rendering a chunk (its machine stops, its process dies) has the chunk
  rescheduled on another worker by the scheduler; a chunk that raises for a passing reason is retried (twice).
* A chunk that fails for bad input (a corrupt drawing, a missing file) is not retried: the render stops with
  the same one-line error a local render gives.

Start a cluster (see README.md): ``dask scheduler`` on one machine, ``dask worker tcp://that-machine:8786
--nworkers 1 --nthreads 1`` on each render machine (one worker per core is also fine; each renders its own
chunk), all with the production mounted at the same path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from compositor.core import Progress
from compositor.errors import BackendMissingError, CompositorError, RenderError
from compositor.spec import Shot
from compositor.steps.composite import Composite, chunks, render_chunk

CHUNKS_PER_WORKER = 3
"""Chunks a worker gets on average: enough to balance slow and fast machines, few enough that each chunk's
drawings are decoded once and reused over many frames."""

ChunkTask = Callable[[str, str, list[int]], Any]


def chunk_task(root: str, cut: str, indices: list[int]) -> list[int] | CompositorError:
    """What a worker runs: ``render_chunk``; a user error comes back as a value, so that it is not retried."""
    try:
        return render_chunk(root, cut, indices)
    except CompositorError as e:
        return e


def _distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415
    except ImportError:
        raise BackendMissingError(
            "rendering on a cluster (--scheduler / FARM=) needs dask.distributed: pip install 'compositor[farm]'"
        ) from None
    return distributed


def chunk_size(frames: int, workers: int) -> int:
    """Frames per chunk for ``frames`` frames over ``workers`` workers (at least 4, so decodes are shared)."""
    return max(4, math.ceil(frames / max(1, workers * CHUNKS_PER_WORKER)))


def run_chunks(
    client: Any,
    shot: Shot,
    todo: list[int],
    progress: Progress | None = None,
    task: ChunkTask = chunk_task,
    size: int | None = None,
) -> None:
    """Render frames ``todo`` (0-based) of ``shot`` on ``client``'s cluster, chunk by chunk; returns when all
    are in."""
    distributed = _distributed()
    workers = len(client.scheduler_info().get("workers", {})) or 1
    parts = chunks(todo, size or chunk_size(len(todo), workers))
    root = str(shot.production.root)
    futures = [
        client.submit(
            task,
            root,
            shot.name,
            part,
            retries=2,
            pure=False,
            key=f"{shot.name}-{part[0]:05d}-{os.getpid()}-{id(parts)}",
        )
        for part in parts
    ]
    done = 0
    if progress:
        progress(f"{shot.name}: composite on the cluster", 0, len(todo))
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            try:
                result = future.result()
            except CompositorError:
                raise
            except Exception as e:  # noqa: BLE001 - the cluster's own failures (KilledWorker, a bug in a chunk)
                reason = f"{type(e).__name__}: {e.args[0]}" if e.args else type(e).__name__
                raise RenderError(f"{shot.display}: a chunk of frames failed on the cluster: {reason}") from e
            if isinstance(result, CompositorError):
                raise result
            done += len(result)
            if progress:
                progress(f"{shot.name}: composite on the cluster", done, len(todo))
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)


def on_cluster(scheduler: str) -> Composite:
    """A `Composite` for ``steps.composite.render_cut``: renders the given frames of a cut on the Dask cluster
    at ``scheduler`` (``tcp://host:8786``). Frames are the same, pixel for pixel, as a local render's."""

    def composite(shot: Shot, todo: list[int], progress: Progress | None = None) -> None:
        with connect(scheduler) as client:
            run_chunks(client, shot, todo, progress)

    return composite


def check_address(scheduler: str) -> None:
    """``RenderError`` unless ``scheduler`` reads as a Dask address (``tcp://host:8786``). Checked before a
    ``Client`` is made: one made from a bad address raises a ValueError, then hangs 40 s closing at exit."""
    _distributed()  # the one-line error when dask.distributed is not installed
    from distributed.comm import get_address_host_port, parse_address  # noqa: PLC0415

    try:
        scheme, location = parse_address(scheduler)
        if scheme == "inproc":  # an in-process cluster's address has no port; only this process can reach it
            from distributed.comm.inproc import global_manager  # noqa: PLC0415

            global_manager.validate_address(location)
        else:
            port = get_address_host_port(scheduler)[1]
            if not 0 < port < 65536:
                raise ValueError(f"port {port} is not 1-65535")
    except ValueError as e:  # "host" without a port, an unknown scheme, another process's in-process cluster
        raise RenderError(f"{scheduler}: not a Dask scheduler address ({e}; write tcp://host:8786)") from None


@contextmanager
def connect(scheduler: str) -> Iterator[Any]:
    """A Dask client of the cluster at ``scheduler``, once it has a worker (waiting up to two minutes);
    ``RenderError`` when the scheduler cannot be reached or has no workers."""
    distributed = _distributed()
    check_address(scheduler)
    try:
        client = distributed.Client(scheduler, timeout="20s", set_as_default=False)
    except OSError as e:
        raise RenderError(f"{scheduler}: cannot reach the Dask scheduler ({e})") from None
    with client:
        if not client.scheduler_info().get("workers"):
            try:
                client.wait_for_workers(1, timeout=120)
            except TimeoutError:
                raise RenderError(
                    f"{scheduler}: the Dask scheduler has no workers (start some: dask worker {scheduler})"
                ) from None
        yield client
