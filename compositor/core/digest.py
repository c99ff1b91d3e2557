"""Keys: short, stable hashes of what made an output, so that nothing stale is ever taken for done.

A key is compared, never a file time: an output whose recorded key differs from the key of its inputs now is
remade. File contents are hashed once per process (a file is hashed again only if its size, time or inode
changed, which can only make it rehash, never skip a change of content).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any

from compositor.errors import CorruptInputError, MissingInputError

KEY_LENGTH = 24
"""Hex digits of a key: 96 bits, far beyond any chance of two different inputs sharing one."""


def content_key(description: Any) -> str:
    """The key of a JSON-able description (sorted keys, so the order of a dict never matters)."""
    blob = json.dumps(description, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:KEY_LENGTH]


@lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:KEY_LENGTH]


def file_digest(path: Path | str) -> str:
    """The key of a file's bytes. An unreadable file is an ``UnreadableInputError`` naming it; a named pipe or
    a device a ``CorruptInputError`` (its read would wait, or run, for ever: a key is hashed before the file
    is read, so the reader's own refusal came too late)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):  # a folder: the read says so
            reason = "not a regular file (a pipe or a device)"
            raise CorruptInputError(f"{path}: {reason}", reason)
        return _file_digest(str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    except FileNotFoundError:  # a link to nothing, or a file gone: one line (still a FileNotFoundError)
        raise MissingInputError(f"{path}: no such file") from None
    except OSError as e:
        from compositor.core.io import read_error  # noqa: PLC0415 (io needs OpenCV; keys do not)

        raise read_error(path, e) from e
