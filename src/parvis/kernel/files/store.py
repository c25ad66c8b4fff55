"""Where files live: the ``FileStore`` port, a folder on disk and an in-memory fake.

Keys are built by the caller, usually with ``content_key`` (``reports/2026/11/<sha256>.jpg``):
the same bytes get the same key, so a retried upload overwrites itself instead of piling up.
A key is a relative path of segments made of ``[A-Za-z0-9_.-]``; no segment may start with a
dot, which rules out ``.``, ``..`` and hidden files and leaves dot-names free for our temporary
files. Every store validates keys the same way, so a test on the fake catches a bad key too.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from contextlib import suppress
from pathlib import Path
from typing import Protocol, runtime_checkable

from parvis.kernel.errors import N_
from parvis.kernel.files.errors import FileNotFound, InvalidFileKey

MAX_KEY_LENGTH = 512
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXTENSION = re.compile(r"[a-z0-9]{1,10}")

MSG_BAD_KEY = N_("This file name is not valid.")


@runtime_checkable
class FileStore(Protocol):
    """Stores bytes under a key. ``get`` of a missing key raises ``FileNotFound`` (a ``NotFound``);
    ``delete`` of a missing key does nothing. Invalid keys raise ``InvalidFileKey``."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


def validate_key(key: str) -> str:
    """Returns ``key`` when it is a safe relative key, else raises ``InvalidFileKey``."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidFileKey(MSG_BAD_KEY)
    return key


def content_key(prefix: str, sha256: str, ext: str) -> str:
    """``content_key("reports/2026/11", digest, "jpg")`` -> ``"reports/2026/11/<digest>.jpg"``."""
    ext = ext.removeprefix(".")
    if not _SHA256.fullmatch(sha256) or not _EXTENSION.fullmatch(ext):
        raise InvalidFileKey(MSG_BAD_KEY)
    prefix = prefix.strip("/")
    return validate_key(f"{prefix}/{sha256}.{ext}" if prefix else f"{sha256}.{ext}")


class LocalFileStore:
    """Files in a folder (``root``), one file per key, written atomically.

    ``put`` writes a temporary file next to the target, fsyncs it, renames it over the target
    with ``os.replace`` and fsyncs the folder: a reader sees the old file or the new one, never
    half of one, and an acknowledged upload survives a power cut. Files are created readable by
    the Parvis user only (photos are personal data; the app serves them). The content type is not
    kept: the key's extension carries it.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def path_for(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)

    def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise FileNotFound() from exc

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        if path.is_dir():
            return
        with suppress(FileNotFoundError, NotADirectoryError):
            path.unlink()
            _fsync_dir(path.parent)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()


class MemoryFileStore:
    """The fake for tests: a dict, with the same key rules as the real stores."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with self._lock:
            self._files[validate_key(key)] = (bytes(data), content_type)

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._files[validate_key(key)][0]
            except KeyError as exc:
                raise FileNotFound() from exc

    def delete(self, key: str) -> None:
        with self._lock:
            self._files.pop(validate_key(key), None)

    def exists(self, key: str) -> bool:
        with self._lock:
            return validate_key(key) in self._files

    def content_type(self, key: str) -> str:
        """The content type given to ``put`` (for assertions in tests)."""
        with self._lock:
            try:
                return self._files[validate_key(key)][1]
            except KeyError as exc:
                raise FileNotFound() from exc

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._files)


def _fsync_dir(path: Path) -> None:
    """Makes a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
