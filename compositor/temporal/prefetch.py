"""Reading a frame iterator ahead on a thread: the pass reads the guide's motion ahead with it, the file
functions the decoded frames."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np


class _Prefetch:
    """Reads a frame iterator ahead on a thread (decoding releases the GIL); ``depth`` frames bound memory."""

    _END = object()

    def __init__(self, frames: Iterator[np.ndarray], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(frames,), daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, frames: Iterator[np.ndarray]) -> None:
        try:
            for frame in frames:
                if not self._put(frame):
                    return
            self._put(self._END)
        except Exception as e:  # noqa: BLE001 - handed to the consumer and raised there
            self._put(e)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                # A reader closed (or gone) without its end marker hands on nothing more: a reader chained to
                # it (the motion thread reads the guide's) must not wait for ever while the pass shuts down.
                if self._stop.is_set() or not self._thread.is_alive():
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        return
                else:
                    continue
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
