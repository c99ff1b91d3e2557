"""The error hierarchy.

One root, ``CompositorError``; each subclass also inherits the built-in it resembles, so callers that catch
``ValueError`` or ``FileNotFoundError`` keep working. The CLI turns any ``CompositorError`` into one line on
stderr and exit status 1; anything else is a real bug and keeps its traceback.
"""

from __future__ import annotations


class CompositorError(Exception):
    """Root of every error the user can fix (bad input, missing files, missing optional backends)."""


class SpecError(CompositorError, ValueError):
    """A shot or edit spec is malformed; the message names the file and the key path."""


class TimesheetError(SpecError):
    """A layer's timing cannot be read, or does not fit the cut."""


class MissingInputError(CompositorError, FileNotFoundError):
    """A file the spec points at (cel, plate, style, preset, model) does not exist."""


class CorruptInputError(CompositorError, ValueError):
    """A file exists but cannot be decoded (a corrupt PNG, a video with no frames, a header claiming more
    pixels than the budget); ``reason`` is the message without the file's name, for callers that name the file
    their own way."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason


class ProductionPathError(CompositorError, PermissionError):
    """A spec points outside the production folder."""


class BackendMissingError(CompositorError, ImportError):
    """An optional backend (diffusers, dask) is not installed; the message says what to install."""


class EncodeError(CompositorError, RuntimeError):
    """ffmpeg failed; the message carries its last line."""


class _PathError(CompositorError, OSError):
    """An ``OSError`` the user can act on: ``str()`` is the one-line message; ``errno``, ``strerror`` and
    ``filename`` are those of the ``OSError`` it stands for (when given)."""

    def __init__(self, message: str, cause: OSError | None = None, filename: str | None = None):
        super().__init__(message)
        self.message = message
        if cause is not None:
            self.errno, self.strerror = cause.errno, cause.strerror
            self.filename = filename if filename is not None else cause.filename

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # noqa: ANN204 (pickles as its message, e.g. from a render farm's worker)
        return (type(self), (self.message,))


class OutputError(_PathError):
    """A file or folder cannot be written (disk full, permission denied, read-only file system, a file where a
    folder should be); the message names the path and says what to do."""


class UnreadableInputError(_PathError):
    """An input exists but cannot be read (permission denied, an I/O error); the message names the path."""


class RenderError(CompositorError, RuntimeError):
    """A render step could not complete for a reason the user can act on (e.g. out of GPU memory)."""
