"""The storage port: a folder on disk written atomically, a fake with the same rules, safe keys."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from files_helpers import LIMITS, jpeg_with_gps

from parvis.kernel.errors import NotFound
from parvis.kernel.files import (
    FileNotFound,
    FileStore,
    InvalidFileKey,
    LocalFileStore,
    MemoryFileStore,
    content_key,
    sanitize_image,
)

DIGEST = "ab" * 32
KEY = f"reports/2026/11/{DIGEST}.jpg"


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    return LocalFileStore(tmp_path / "files") if request.param == "local" else MemoryFileStore()


def test_both_stores_implement_the_port(tmp_path: Path) -> None:
    assert isinstance(LocalFileStore(tmp_path), FileStore)
    assert isinstance(MemoryFileStore(), FileStore)


def test_put_get_exists_delete(store: FileStore) -> None:
    assert not store.exists(KEY)
    store.put(KEY, b"first", "image/jpeg")
    assert store.exists(KEY) and store.get(KEY) == b"first"
    store.put(KEY, b"second", "image/jpeg")
    assert store.get(KEY) == b"second", "put replaces"
    store.delete(KEY)
    assert not store.exists(KEY)
    store.delete(KEY)  # deleting twice is fine: a retried job must not fail


def test_a_missing_file_is_a_404(store: FileStore) -> None:
    with pytest.raises(FileNotFound) as info:
        store.get(KEY)
    assert isinstance(info.value, NotFound) and info.value.status == 404


def test_a_folder_is_not_a_file(store: FileStore) -> None:
    store.put(KEY, b"x", "image/jpeg")
    assert not store.exists("reports/2026")
    with pytest.raises(FileNotFound):
        store.get("reports/2026")
    store.delete("reports/2026")
    assert store.get(KEY) == b"x"


BAD_KEYS = ["", "/etc/passwd", "../outside.jpg", "reports/../../outside.jpg", "reports/./x.jpg", "a//b.jpg",
            "reports/", ".hidden", "reports/.tmp-abc", "a\\b.jpg", "a b.jpg", "photo\u00e9.jpg", "C:/x.jpg",
            "a\x00b.jpg", "a\nb.jpg", "~/x.jpg", "x" * 256, "a/" * 300 + "b"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_by_every_operation(store: FileStore, key: str, tmp_path: Path) -> None:
    for call in (lambda: store.put(key, b"x", "image/jpeg"), lambda: store.get(key),
                 lambda: store.delete(key), lambda: store.exists(key)):
        with pytest.raises(InvalidFileKey) as info:
            call()
        assert info.value.status == 400
    assert not (tmp_path / "outside.jpg").exists()


def test_local_files_land_under_the_root_readable_by_parvis_only(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    store.put(KEY, b"photo", "image/jpeg")
    path = tmp_path / "files" / "reports" / "2026" / "11" / f"{DIGEST}.jpg"
    assert path.read_bytes() == b"photo"
    assert store.path_for(KEY) == path.resolve()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "no temporary file left behind"


def test_local_put_is_fsynced_then_renamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    LocalFileStore(tmp_path).put(KEY, b"photo", "image/jpeg")
    assert calls[:2] == ["fsync", "replace"], "the data is on disk before the name points to it"
    assert calls[2:] == ["fsync"], "then the folder, so the rename survives a power cut"


def test_a_failed_put_keeps_the_old_file_and_leaves_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalFileStore(tmp_path)
    store.put(KEY, b"old", "image/jpeg")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put(KEY, b"new-but-lost", "image/jpeg")
    assert store.get(KEY) == b"old"
    assert [p.name for p in store.path_for(KEY).parent.iterdir()] == [f"{DIGEST}.jpg"]


def test_concurrent_puts_of_one_key_never_mix(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    contents = [bytes([i]) * 200_000 for i in range(8)]
    threads = [threading.Thread(target=store.put, args=(KEY, c, "image/jpeg")) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(KEY) in contents


def test_memory_store_keeps_the_content_type() -> None:
    store = MemoryFileStore()
    store.put(KEY, bytearray(b"x"), "image/jpeg")
    assert store.content_type(KEY) == "image/jpeg" and store.keys() == [KEY]
    assert isinstance(store.get(KEY), bytes)


def test_content_key() -> None:
    assert content_key("reports/2026/11", DIGEST, "jpg") == KEY
    assert content_key("/reports/2026/11/", DIGEST, ".jpg") == KEY
    assert content_key("", DIGEST, "jpg") == f"{DIGEST}.jpg"
    for prefix, digest, ext in [("reports", DIGEST.upper(), "jpg"), ("reports", "ab" * 10, "jpg"),
                                ("reports", DIGEST, "j/pg"), ("reports", DIGEST, ""),
                                ("../etc", DIGEST, "jpg"), ("reports/..", DIGEST, "jpg")]:
        with pytest.raises(InvalidFileKey):
            content_key(prefix, digest, ext)


def test_a_sanitized_photo_round_trips_through_the_store(store: FileStore) -> None:
    photo = sanitize_image(jpeg_with_gps(), **LIMITS)
    key = content_key("reports/2026/11", photo.sha256, photo.extension)
    thumb_key = content_key("reports/2026/11/thumbs", photo.thumbnail_sha256, photo.extension)
    store.put(key, photo.data, photo.content_type)
    store.put(thumb_key, photo.thumbnail, photo.content_type)
    assert store.get(key) == photo.data and store.get(thumb_key) == photo.thumbnail
