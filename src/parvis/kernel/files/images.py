"""Photos from citizens, made safe to keep and to show.

``sanitize_image`` accepts JPEG, PNG and WebP identified by their content (the file name and the
declared type are never read), decodes them with Pillow under a per-call pixel limit, turns them
upright, drops every piece of metadata and re-encodes a fresh progressive JPEG and a thumbnail.

How hostile input is treated:

* A file must *start* with the signature of JPEG, PNG or WebP. SVG, HTML, XML, PDF, ZIP and
  everything else is refused before Pillow sees it, and Pillow itself is restricted to these
  three formats. HEIC/HEIF and AVIF get their own message (we cannot decode them).
* Bytes after the end of the image (HTML appended to a JPEG, a ZIP after a PNG's IEND: the
  classic polyglots) are accepted but never kept: only decoded pixels reach the output, so
  whatever rode along is discarded. The same holds for text hidden in EXIF, XMP, comments and
  PNG text chunks.
* The pixel count is read from the header and checked against ``max_pixels`` before any pixel
  is decoded, so a small file claiming 30000x30000 costs nothing. Pillow's own global bomb
  guard (``Image.MAX_IMAGE_PIXELS``) stays on as a second line; we do not touch global warning
  filters (they are not thread-safe), but a ``DecompressionBombWarning`` made an error by the
  process's filters is reported like the error.
* Any failure inside Pillow becomes ``InvalidImage`` (422); too many bytes or pixels become
  ``ImageTooLarge`` (413). Nothing from Pillow escapes, so an upload can never cause a 500.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from parvis.kernel.errors import N_
from parvis.kernel.files.errors import ImageTooLarge, InvalidImage

log = logging.getLogger(__name__)

JPEG_CONTENT_TYPE = "image/jpeg"
DEFAULT_QUALITY = 82
DEFAULT_THUMBNAIL_SIDE = 320
THUMBNAIL_QUALITY = 75

_PILLOW_FORMATS = ["JPEG", "PNG", "WEBP"]
# A JPEG carrying a Multi-Picture index (many phones) is opened by Pillow as "MPO".
_ACCEPTED = {"JPEG", "MPO", "PNG", "WEBP"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
# What Pillow's decoders raise on damaged or crafted input.
_CORRUPT = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
            ZeroDivisionError)

MSG_EMPTY = N_("The file is empty.")
MSG_TOO_MANY_BYTES = N_("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
MSG_NOT_AN_IMAGE = N_("This file is not a photo. Please send a JPEG, PNG or WebP image.")
MSG_HEIC = N_("HEIC and AVIF photos are not supported yet. Please send a JPEG, PNG or WebP photo "
              "(on an iPhone: Settings, Camera, Formats, Most Compatible).")
MSG_DAMAGED = N_("The image is damaged or incomplete. Please take or send it again.")
MSG_TOO_MANY_PIXELS = N_("The image has too many pixels (%(pixels)s megapixels); "
                         "the limit is %(limit)s megapixels.")
MSG_TOO_MANY_PIXELS_UNKNOWN = N_("The image has too many pixels; the limit is %(limit)s megapixels.")


@dataclass(frozen=True, slots=True)
class SanitizedImage:
    """A re-encoded photo with no metadata, ready to store: ``data`` and its ``thumbnail``."""

    data: bytes = field(repr=False)
    width: int
    height: int
    content_type: str
    sha256: str
    thumbnail: bytes = field(repr=False)
    source_format: str  # what the citizen sent: "JPEG", "PNG" or "WEBP"

    @property
    def extension(self) -> str:
        return "jpg"

    @property
    def thumbnail_sha256(self) -> str:
        return hashlib.sha256(self.thumbnail).hexdigest()


def sanitize_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_side: int,
    thumbnail_side: int = DEFAULT_THUMBNAIL_SIDE,
    quality: int = DEFAULT_QUALITY,
) -> SanitizedImage:
    """Checks, decodes, turns upright, downscales to ``max_side`` and re-encodes ``data``.

    Raises ``InvalidImage`` (422) or ``ImageTooLarge`` (413) and nothing else for any input.
    """
    if not data:
        raise InvalidImage(MSG_EMPTY)
    if len(data) > max_bytes:
        raise ImageTooLarge(MSG_TOO_MANY_BYTES, params={"size": _millions(len(data), up=True),
                                                         "limit": _millions(max_bytes)})
    _sniff(data)
    with _pillow_errors(max_pixels):
        with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS) as probe:
            probe.verify()
        img = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
        if img.format not in _ACCEPTED:  # pragma: no cover - Pillow is restricted to these already
            raise InvalidImage(MSG_NOT_AN_IMAGE)
        source_format = "JPEG" if img.format == "MPO" else str(img.format)
        width, height = img.size
        if width * height > max_pixels:
            raise ImageTooLarge(MSG_TOO_MANY_PIXELS, params={"pixels": _millions(width * height, up=True),
                                                             "limit": _millions(max_pixels)})
        if img.format in ("JPEG", "MPO"):
            # Lets libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers max_side.
            img.draft("RGB", (max_side, max_side))
        img.load()
        img = _upright(img)
        img = _to_rgb(img)
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        clean = _without_metadata(img)
        out = _encode(clean, quality)
        thumb = clean.copy()
        thumb.thumbnail((thumbnail_side, thumbnail_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        thumbnail = _encode(thumb, THUMBNAIL_QUALITY)
    return SanitizedImage(
        data=out,
        width=clean.width,
        height=clean.height,
        content_type=JPEG_CONTENT_TYPE,
        sha256=hashlib.sha256(out).hexdigest(),
        thumbnail=thumbnail,
        source_format=source_format,
    )


def _sniff(data: bytes) -> None:
    """Refuses anything that does not start like a JPEG, PNG or WebP file."""
    if data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n"):
        return
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        raise InvalidImage(MSG_HEIC)
    raise InvalidImage(MSG_NOT_AN_IMAGE)


@contextmanager
def _pillow_errors(max_pixels: int) -> Iterator[None]:
    """Turns whatever Pillow raises on hostile input into our errors."""
    try:
        yield
    except (InvalidImage, ImageTooLarge):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(MSG_TOO_MANY_PIXELS_UNKNOWN, params={"limit": _millions(max_pixels)}) from exc
    except _CORRUPT as exc:
        raise InvalidImage(MSG_DAMAGED) from exc
    except Exception as exc:  # a decoder bug must still not become a 500; keep a trace in the log
        log.warning("unexpected error while decoding an image", exc_info=True)
        raise InvalidImage(MSG_DAMAGED) from exc


def _upright(img: Image.Image) -> Image.Image:
    """Applies the EXIF orientation; a damaged EXIF block leaves the photo as it is."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # cheap phones write broken EXIF: keep the photo rather than refuse it
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
        return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent pixels become white instead of black."""
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode.startswith("I") or img.mode == "F":  # 16-bit greyscale PNG: scale to 8 bits
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return img if img.mode == "RGB" else img.convert("RGB")


def _without_metadata(img: Image.Image) -> Image.Image:
    """A fresh image holding only the pixels: no EXIF, XMP, ICC, comment or text chunk survives."""
    clean = Image.new("RGB", img.size)
    clean.paste(img)
    return clean


def _encode(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
    return buf.getvalue()


def _millions(n: int, *, up: bool = False) -> str:
    """``n`` in millions (MB, megapixels) with one decimal, "12" rather than "12.0".

    A measured size is rounded up and a limit down, so that a size over its limit never reads as
    equal to it ("2 megapixels; the limit is 1.9").
    """
    tenths = math.ceil(n / 100_000) if up else math.floor(n / 100_000)
    whole, tenth = divmod(tenths, 10)
    return f"{whole}.{tenth}" if tenth else str(whole)
