"""Good photos come out upright, small, re-encoded and with no metadata at all."""

from __future__ import annotations

import hashlib
import io

import pytest
from files_helpers import (
    GPS_LATITUDE,
    LIMITS,
    SECRET_COMMENT,
    SECRET_MAKE,
    SECRET_MODEL,
    encode,
    jpeg_segments,
    jpeg_with_gps,
    noisy,
    rational_bytes,
    rotated_jpeg,
    transparent_png,
)
from PIL import Image

from parvis.kernel.files import SanitizedImage, sanitize_image

APP1_TO_APP15 = set(range(0xE1, 0xF0))
COM = 0xFE


def assert_clean(data: bytes) -> None:
    """No EXIF, XMP, ICC or comment: neither through Pillow nor in the raw bytes."""
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert len(img.getexif()) == 0
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Comment"):
        assert key not in img.info, key
    markers = jpeg_segments(data)
    assert not APP1_TO_APP15 & set(markers), "an APP1..APP15 segment (EXIF, XMP, ICC) survived"
    assert COM not in markers, "a comment segment survived"
    assert b"Exif\x00\x00" not in data
    assert b"http://ns.adobe.com/xap" not in data and b"xmpmeta" not in data
    for secret in (SECRET_MAKE.encode(), SECRET_MODEL.encode(), SECRET_COMMENT, b"secret"):
        assert secret not in data
    for packed in rational_bytes(GPS_LATITUDE):
        assert packed not in data


def check_output(out: SanitizedImage) -> None:
    assert out.content_type == "image/jpeg" and out.extension == "jpg"
    assert out.sha256 == hashlib.sha256(out.data).hexdigest()
    assert out.thumbnail_sha256 == hashlib.sha256(out.thumbnail).hexdigest()
    img = Image.open(io.BytesIO(out.data))
    assert (img.width, img.height) == (out.width, out.height)
    assert img.mode == "RGB"
    assert img.info.get("progressive") or img.info.get("progression")
    assert_clean(out.data)
    assert_clean(out.thumbnail)
    thumb = Image.open(io.BytesIO(out.thumbnail))
    assert max(thumb.size) <= 320


def test_gps_exif_xmp_and_comment_are_stripped() -> None:
    source = jpeg_with_gps()
    assert b"Exif\x00\x00" in source and SECRET_MAKE.encode() in source

    out = sanitize_image(source, **LIMITS)

    check_output(out)
    assert (out.width, out.height) == (64, 48)
    assert out.source_format == "JPEG"
    assert "data=" not in repr(out) and "thumbnail=" not in repr(out), "no bytes in logs"


def test_exif_orientation_is_applied_before_stripping() -> None:
    out = sanitize_image(rotated_jpeg(), **LIMITS)

    check_output(out)
    assert (out.width, out.height) == (40, 80), "stored 80x40 with Orientation=6 must come out 40x80"
    img = Image.open(io.BytesIO(out.data)).convert("RGB")
    top, bottom = img.getpixel((20, 10)), img.getpixel((20, 70))
    assert top[0] > 200 and top[2] < 60, f"the red half must be on top, got {top}"
    assert bottom[2] > 200 and bottom[0] < 60, f"the blue half must be at the bottom, got {bottom}"


def test_a_large_photo_is_downscaled_to_max_side_and_gets_a_thumbnail() -> None:
    source = encode(noisy((4000, 3000)), "JPEG", quality=80)

    out = sanitize_image(source, **LIMITS)

    assert (out.width, out.height) == (1600, 1200)
    assert Image.open(io.BytesIO(out.thumbnail)).size == (320, 240)
    assert len(out.data) < len(source)
    check_output(out)


def test_a_small_max_side_is_honoured_for_portrait_images() -> None:
    out = sanitize_image(encode(noisy((300, 900)), "PNG"), max_bytes=10_000_000, max_pixels=1_000_000,
                         max_side=200, thumbnail_side=50)
    assert (out.width, out.height) == (67, 200)
    assert max(Image.open(io.BytesIO(out.thumbnail)).size) == 50


def test_png_with_transparency_becomes_jpeg_on_white() -> None:
    out = sanitize_image(transparent_png(), **LIMITS)

    check_output(out)
    assert out.source_format == "PNG"
    img = Image.open(io.BytesIO(out.data))
    corner, centre = img.getpixel((2, 2)), img.getpixel((30, 30))
    assert min(corner) > 240, f"transparent pixels must become white, not black: {corner}"
    assert centre[0] > 200 and centre[1] < 60


def test_webp_is_accepted() -> None:
    out = sanitize_image(encode(noisy((120, 90)), "WEBP", quality=80, exif=b"Exif\x00\x00junk"), **LIMITS)

    check_output(out)
    assert out.source_format == "WEBP"
    assert (out.width, out.height) == (120, 90)


@pytest.mark.parametrize(
    ("mode", "fmt", "extra"),
    [
        ("L", "JPEG", {}),
        ("CMYK", "JPEG", {}),
        ("P", "PNG", {"transparency": 0}),
        ("I;16", "PNG", {}),
        ("1", "PNG", {}),
        ("LA", "PNG", {}),
    ],
)
def test_every_colour_mode_becomes_rgb(mode: str, fmt: str, extra: dict) -> None:
    img = noisy((50, 40), "L").convert(mode) if mode != "I;16" else Image.new("I;16", (50, 40), 40000)
    out = sanitize_image(encode(img, fmt, **extra), **LIMITS)
    check_output(out)
    assert (out.width, out.height) == (50, 40)
    if mode == "I;16":  # 16-bit grey scaled to 8 bits, not clipped to white
        assert 140 < Image.open(io.BytesIO(out.data)).getpixel((25, 20))[0] < 170


def test_html_appended_after_a_jpeg_is_discarded() -> None:
    """A polyglot (a real JPEG followed by HTML) decodes as the JPEG; re-encoding drops the tail."""
    source = jpeg_with_gps() + b"<html><script>alert(document.cookie)</script></html>"

    out = sanitize_image(source, **LIMITS)

    assert b"<script" not in out.data and b"<html" not in out.data
    check_output(out)


def test_same_photo_same_digest() -> None:
    source = jpeg_with_gps()
    assert sanitize_image(source, **LIMITS).sha256 == sanitize_image(source, **LIMITS).sha256
