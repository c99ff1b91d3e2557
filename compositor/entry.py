"""The ``compositor`` command's entry point: Ctrl-C is taken in hand before anything heavy is imported.

Loading the command (pydantic, numpy, OpenCV, numba) takes about half a second; a Ctrl-C then was Python's
``KeyboardInterrupt`` traceback from somewhere inside an import. Nothing has been written at that point, so
the command stops at once with one line; once loaded, `compositor.cli.main` takes over the signals (and tidies
what it was writing).
"""

from __future__ import annotations

import os
import signal
import sys


def _stopped_while_loading(signum: int, frame: object) -> None:
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    os.write(2, f"{word} while starting: nothing was written\n".encode())
    os._exit(128 + signum)  # mid-import: unwinding would only meet half-initialised modules


def main() -> None:
    if sys.platform != "win32":
        signal.signal(signal.SIGINT, _stopped_while_loading)
        signal.signal(signal.SIGTERM, _stopped_while_loading)
    from compositor.cli import main as run  # noqa: PLC0415 (after the signals are ours)

    run()
