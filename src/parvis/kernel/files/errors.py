"""Errors of the file service. Details are English msgids marked with ``N_``; the edge handler
translates them with their ``params`` (``%(limit)s`` style)."""

from __future__ import annotations

from parvis.kernel.errors import N_, NotFound, ParvisError


class InvalidImage(ParvisError):
    """The upload is not an image we accept: not a photo, a format we refuse, damaged or empty."""

    status = 422
    type_slug = "invalid-image"
    title = N_("This image cannot be accepted.")


class ImageTooLarge(ParvisError):
    """The upload has too many bytes or too many pixels."""

    status = 413
    type_slug = "image-too-large"
    title = N_("This image is too large.")


class FileNotFound(NotFound):
    """No file is stored under this key (a ``NotFound``: 404)."""

    type_slug = "file-not-found"
    title = N_("This file does not exist.")


class InvalidFileKey(ParvisError):
    """A storage key that could escape the store or that we do not allow (400)."""

    status = 400
    type_slug = "invalid-file-key"
    title = N_("This file name is not valid.")
