"""The kernel's file service: safe photos from citizens and a small storage port.

``sanitize_image`` turns an upload into a metadata-free JPEG plus a thumbnail, or raises
``InvalidImage`` (422) / ``ImageTooLarge`` (413) with a translatable detail. A ``FileStore``
keeps the bytes: ``LocalFileStore`` on disk, ``MemoryFileStore`` in tests. Nothing happens at
import time.
"""

from __future__ import annotations

from parvis.kernel.files.errors import FileNotFound, ImageTooLarge, InvalidFileKey, InvalidImage
from parvis.kernel.files.images import SanitizedImage, sanitize_image
from parvis.kernel.files.store import (
    FileStore,
    LocalFileStore,
    MemoryFileStore,
    content_key,
    validate_key,
)

__all__ = [
    "FileNotFound",
    "FileStore",
    "ImageTooLarge",
    "InvalidFileKey",
    "InvalidImage",
    "LocalFileStore",
    "MemoryFileStore",
    "SanitizedImage",
    "content_key",
    "sanitize_image",
    "validate_key",
]
