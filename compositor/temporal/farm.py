"""The pass on a Dask cluster: the cut's windows spread over the workers, each read and written by its worker.

A window needs only its own frames and ``context`` frames either side (``compositor.temporal.bidirectional``),
never another window's result, so every window is an independent task: ``steady_window`` reads frames
``[core_start - context - 1, core_stop + context)`` of input and guide (``window_reads``) from files on shared
storage, computes the outputs of ``[core_start, core_stop)`` and writes them. A local run computes each window
with the same frames and the same arithmetic: the files are the same, pixel for pixel. ``deflicker_on_cluster``
submits the windows and waits; a lost worker's window is computed again elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from compositor.core.io import ensure_folder, remove_stale_temp_files
from compositor.errors import CompositorError, RenderError
from compositor.spec.models import TemporalSettings
from compositor.temporal.bidirectional import _run_windows, window_reads
from compositor.temporal.files import (
    WindowKeys,
    _open_pair,
    _output_names,
    _refuse_file_name,
    _refuse_overwrite,
    _remove_stale_frames,
    _Writer,
)


def steady_window(
    input: str, guide: str, output: str, core_start: int, core_stop: int, settings: TemporalSettings
) -> int | CompositorError:
    """What a worker runs: the outputs of frames ``[core_start, core_stop)`` written under ``output`` (named as
    ``deflicker_files`` names them); returns how many, or a user error as a value (not retried)."""
    try:
        source, guide_source = _open_pair(input, guide)
        total = len(source)
        lo, hi = window_reads(core_start, core_stop, total, settings)
        names = _output_names(source, Path(output))
        keys = WindowKeys(source, guide_source, settings, total)
        keys.of_frame(core_start)  # hashed before the window's frames are read (``WindowKeys.hash_from``)
        frames = source.frames(lo, hi - lo)
        guides = guide_source.frames(lo, hi - lo)
        pass_names = (f"input {input}", f"guide {guide}")
        outputs = _run_windows(
            frames, guides, settings, None, pass_names, None, core_start, core_stop, lo, total
        )
        # As deflicker_files writes: the same files, the same keys.
        writer = _Writer(bits=keys.depth, keys=keys)
        try:
            for i, out in enumerate(outputs, core_start):
                writer.put(i, names[i], out)
        except BaseException:
            writer.abandon()
            raise
        writer.close()
        return core_stop - core_start
    except CompositorError as e:
        # Without its traceback: that would keep the pass (and its motion thread) alive as long as the
        # cluster keeps the result.
        return e.with_traceback(None)


def deflicker_on_cluster(
    client: Any, input: str, guide: str, output: Path, settings: TemporalSettings
) -> int:
    """Run the pass from files to files on ``client``'s Dask cluster, a task a window; returns the frames
    written now (a window whose frames an earlier run finished is kept, not sent). Raises the one-line error of a window that failed for bad input, ``RenderError`` for the cluster's
    own failures."""
    import distributed  # noqa: PLC0415 (the farm extra)

    source, guide_source = _open_pair(input, guide)
    total = len(source)
    # Before any window starts: a worker would write over frames that others are still reading.
    names = _output_names(source, Path(output))
    _refuse_file_name(Path(output), names)
    _refuse_overwrite(names, Path(output), ("input", source, input), ("guide", guide_source, guide))
    ensure_folder(Path(output))
    remove_stale_temp_files(Path(output))
    # A worker resolves a relative path against its own working folder (on another machine, or where the
    # worker was started): absolute paths name the same files on the shared storage for every worker.
    paths = (os.path.abspath(input), os.path.abspath(guide), os.path.abspath(output))
    keys = WindowKeys(source, guide_source, settings, total)
    futures = [  # a window an earlier run (here or local) finished is kept
        client.submit(steady_window, *paths, r.start, r.stop, settings, retries=2, pure=False)
        for number, r in enumerate(keys.spans)
        if not keys.finished(names, number)
    ]
    done = 0
    try:
        # The client's own loop: the CLI's client is not the default one, which as_completed would look for.
        for future in distributed.as_completed(futures, loop=client.loop):
            try:
                result = future.result()
            except Exception as e:  # noqa: BLE001 - the cluster's own failures (KilledWorker, a bug)
                raise RenderError(
                    f"{output}: a window of the temporal pass failed on the cluster: {e}"
                ) from e
            if isinstance(result, CompositorError):
                raise result
            done += result
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
    _remove_stale_frames(source, names, Path(output))
    return done
