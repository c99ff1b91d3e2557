"""Reviewers' notes per frame, ``render/<edit>.notes.json``, and ``compositor review``: the review page served
on localhost, with ``POST /<edit>.notes.json`` writing the notes (a static page cannot write a file).

The file: ``{"edit": "<edit>", "notes": [{"frame": 57, "cut": "sc010_c020", "cut_frame": 12,
"timecode": "01:00:02:08", "text": "...", "author": "...", "time": "2026-11-30T08:12:00Z"}, ...]}`` where
``frame`` is the 1-based frame of the screening cut; sorted by frame. The server checks the shape (`clean`)
and writes it atomically (``io.write_bytes_atomic``): a reader sees the old notes or the new, never half.

The server binds 127.0.0.1 only, serves the files under ``render/`` (GET and HEAD, with byte ranges so the
browser can seek in the movie) and writes nothing but the notes file.
"""

from __future__ import annotations

import json
import mimetypes
import re
import sys
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from compositor.core.io import write_bytes_atomic
from compositor.errors import CorruptInputError
from compositor.spec import Edit

MAX_NOTES_BYTES = 4 << 20
"""The largest notes file the server takes (4 MiB: tens of thousands of notes)."""
MAX_TEXT = 10_000
_FIELDS = {"frame": int, "cut": str, "cut_frame": int, "timecode": str, "text": str, "author": str, "time": str}


def clean(data: Any) -> list[dict[str, Any]]:
    """The notes of a posted (or read) notes document, checked and sorted by frame; ValueError says what is
    wrong. Unknown fields are dropped; ``frame`` (>= 1) and ``text`` are required."""
    items = data.get("notes") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError('expected {"notes": [...]}')
    notes = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"notes[{i}]: not an object")
        note: dict[str, Any] = {}
        for key, kind in _FIELDS.items():
            if key not in item:
                continue
            value = item[key]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"notes[{i}].{key}: not an integer")
            if kind is str and not isinstance(value, str):
                raise ValueError(f"notes[{i}].{key}: not a string")
            if kind is str and len(value) > MAX_TEXT:
                raise ValueError(f"notes[{i}].{key}: longer than {MAX_TEXT} characters")
            note[key] = value
        if "frame" not in note or note["frame"] < 1:
            raise ValueError(f"notes[{i}].frame: missing or below 1")
        if not note.get("text", "").strip():
            raise ValueError(f"notes[{i}].text: empty")
        notes.append(note)
    return sorted(notes, key=lambda n: (n["frame"], n.get("time", "")))


def read_notes(path: Path, strict: bool = False, display: str | None = None) -> list[dict[str, Any]]:
    """The notes in ``path`` (none when there is no file). A file that is not a notes file gives none too (the
    review page must still open), or with ``strict`` (the editorial exports, which would silently lose them)
    a `CorruptInputError` saying what is wrong, naming the file as ``display`` (the production's relative path)."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return clean({"notes": data} if isinstance(data, list) else data)  # a bare list, as a script may write
    except (OSError, ValueError) as e:
        if strict:
            raise CorruptInputError(f"{display or path}: not readable as review notes ({e})") from None
        return []


def write_notes(edit: Edit, notes: list[dict[str, Any]]) -> Path:
    data = {"edit": edit.edit.name, "notes": notes}
    path = edit.paths.notes
    write_bytes_atomic(path, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return path


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser drops the rest of a movie it has buffered enough of: not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def make_server(edit: Edit, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:``port`` (0: any free port) for ``render/`` and the edit's notes."""
    render = edit.production.render.resolve()
    notes_name = "/" + edit.paths.notes.name
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "compositor-review"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the terminal stays quiet; failures are answered to the page

        def _head(self, status: int, length: int, kind: str, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(length))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()

        def _send(self, status: int, body: bytes, kind: str = "application/json", extra: dict | None = None) -> None:
            self._head(status, len(body), kind, extra)
            if self.command != "HEAD":
                self.wfile.write(body)

        def _send_file(self, target: Path, start: int, end: int, status: int, kind: str, extra: dict) -> None:
            """Bytes ``start`` to ``end`` (inclusive) of ``target``, read a piece at a time (a movie may be big)."""
            self._head(status, end - start + 1, kind, extra)
            if self.command == "HEAD":
                return
            with open(target, "rb") as f:
                f.seek(start)
                left = end - start + 1
                while left > 0:
                    piece = f.read(min(left, 1 << 20))
                    if not piece:
                        break
                    self.wfile.write(piece)
                    left -= len(piece)

        def _file(self) -> Path | None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path == "/":
                path = "/" + edit.paths.html.name
            target = (render / path.lstrip("/")).resolve()
            if not target.is_relative_to(render) or not target.is_file():
                return None
            return target

        def do_GET(self) -> None:  # noqa: N802
            target = self._file()
            if target is None:
                if urllib.parse.urlsplit(self.path).path == notes_name:
                    self._send(HTTPStatus.OK, json.dumps({"edit": edit.edit.name, "notes": []}).encode())
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                return
            size = target.stat().st_size
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or target.suffix == ".json":
                kind += "; charset=utf-8"
            wanted = _RANGE.match(self.headers.get("Range", ""))
            if wanted and (wanted.group(1) or wanted.group(2)):
                lo, hi = wanted.groups()
                start = int(lo) if lo else max(0, size - int(hi))
                end = min(size - 1, int(hi)) if lo and hi else size - 1
                if start >= size or start > end:
                    self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", kind, {"Content-Range": f"bytes */{size}"})
                    return
                extra = {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes"}
                self._send_file(target, start, end, HTTPStatus.PARTIAL_CONTENT, kind, extra)
                return
            self._send_file(target, 0, size - 1, HTTPStatus.OK, kind, {"Accept-Ranges": "bytes"})

        do_HEAD = do_GET  # noqa: N815

        def do_POST(self) -> None:  # noqa: N802
            if urllib.parse.urlsplit(self.path).path != notes_name:
                self._send(HTTPStatus.NOT_FOUND, b'{"error": "only the notes file can be written"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_NOTES_BYTES:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b'{"error": "too large"}')
                return
            try:
                notes = clean(json.loads(self.rfile.read(length).decode("utf-8")))
            except (ValueError, UnicodeDecodeError) as e:
                self._send(HTTPStatus.BAD_REQUEST, json.dumps({"error": str(e)}).encode())
                return
            try:
                with lock:
                    write_notes(edit, notes)
            except Exception as e:  # an OutputError (disk full, permissions): the page shows it
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, json.dumps({"error": str(e)}).encode())
                return
            self._send(HTTPStatus.OK, json.dumps({"saved": len(notes), "file": edit.paths.notes.name}).encode())

    return _Server(("127.0.0.1", port), Handler)
