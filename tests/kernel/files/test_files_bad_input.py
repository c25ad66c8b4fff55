"""Bad uploads get a clear, translatable error (422 or 413) and never a Pillow exception."""

from __future__ import annotations

import io
import time
import warnings
import zipfile

import pytest
from files_helpers import LIMITS, encode, jpeg_with_gps, noisy, png_claiming
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from parvis.kernel.errors import ParvisError
from parvis.kernel.files import ImageTooLarge, InvalidImage, sanitize_image
from parvis.kernel.files.images import (
    MSG_DAMAGED,
    MSG_EMPTY,
    MSG_HEIC,
    MSG_NOT_AN_IMAGE,
    MSG_TOO_MANY_BYTES,
    MSG_TOO_MANY_PIXELS,
    MSG_TOO_MANY_PIXELS_UNKNOWN,
)
from parvis.kernel.i18n import Translator


def refused(data: bytes, **limits: int) -> ParvisError:
    with pytest.raises((InvalidImage, ImageTooLarge)) as info:
        sanitize_image(data, **{**LIMITS, **limits})
    err = info.value
    # What the edge handler shows: the msgid translated and filled with its parameters.
    assert Translator("en").gettext(err.detail, **err.params)
    return err


def message(err: ParvisError) -> str:
    return Translator("en").gettext(err.detail, **err.params)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("photo.jpg", jpeg_with_gps())
    return buf.getvalue()


NOT_IMAGES = {
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    "svg with xml declaration": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    "svg after whitespace": b"\n  <svg><script>alert(1)</script></svg>",
    "html named photo.jpg": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "html then a jpeg": b"<html><!--" + b"\xff\xd8\xff\xe0" + b"-->",
    "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF",
    "zip": zip_bytes(),
    "gif": encode(Image.new("P", (4, 4)), "GIF"),
    "bmp": encode(Image.new("RGB", (4, 4)), "BMP"),
    "tiff": encode(Image.new("RGB", (4, 4)), "TIFF"),
    "text": b"just some text",
    "bom then jpeg": b"\xef\xbb\xbf" + jpeg_with_gps(),
}


@pytest.mark.parametrize("data", NOT_IMAGES.values(), ids=NOT_IMAGES.keys())
def test_files_that_are_not_jpeg_png_or_webp_are_refused(data: bytes) -> None:
    err = refused(data)
    assert isinstance(err, InvalidImage)
    assert (err.status, err.type_slug) == (422, "invalid-image")
    assert err.detail == MSG_NOT_AN_IMAGE
    assert "JPEG, PNG or WebP" in message(err)


@pytest.mark.parametrize("brand", [b"heic", b"mif1", b"avif"])
def test_heic_and_avif_get_their_own_message(brand: bytes) -> None:
    err = refused(b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    assert isinstance(err, InvalidImage) and err.detail == MSG_HEIC
    assert "HEIC" in message(err)


def test_empty_file() -> None:
    err = refused(b"")
    assert isinstance(err, InvalidImage) and err.detail == MSG_EMPTY


def test_too_many_bytes_says_the_limit() -> None:
    err = refused(b"\xff\xd8\xff" + b"\x00" * 10_000_001)  # checked before anything is decoded
    assert isinstance(err, ImageTooLarge)
    assert (err.status, err.type_slug) == (413, "image-too-large")
    assert err.detail == MSG_TOO_MANY_BYTES
    assert message(err) == "The file is too large (10.1 MB); the limit is 10 MB."
    small = refused(jpeg_with_gps(), max_bytes=2_500_000 // 1_000)
    assert isinstance(small, ImageTooLarge) and small.params["size"] != small.params["limit"]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_refused_as_damaged(fmt: str) -> None:
    data = encode(noisy((200, 150)), fmt)
    err = refused(data[: len(data) // 2])
    assert isinstance(err, InvalidImage) and err.detail == MSG_DAMAGED


@pytest.mark.parametrize(
    "data",
    [b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 50, b"\x89PNG\r\n\x1a\n",
     b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100],
    ids=["jpeg magic only", "jpeg header only", "png signature only", "webp header only", "png zeros"],
)
def test_a_signature_alone_is_not_an_image(data: bytes) -> None:
    err = refused(data)
    assert isinstance(err, InvalidImage) and err.detail == MSG_DAMAGED


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_claiming(30_000, 30_000)
    assert len(bomb) < 200
    started = time.perf_counter()
    err = refused(bomb)
    assert time.perf_counter() - started < 0.5, "the bomb must be refused before decoding"
    assert isinstance(err, ImageTooLarge) and err.detail == MSG_TOO_MANY_PIXELS_UNKNOWN
    assert message(err) == "The image has too many pixels; the limit is 40 megapixels."


def test_a_bomb_under_pillows_own_guard_is_caught_by_our_per_call_limit() -> None:
    err = refused(png_claiming(9_000, 9_000))  # 81 MP: Pillow's global guard would let it decode
    assert isinstance(err, ImageTooLarge) and err.detail == MSG_TOO_MANY_PIXELS
    assert message(err) == "The image has too many pixels (81 megapixels); the limit is 40 megapixels."


def test_pillows_bomb_warning_made_an_error_is_reported_as_too_large() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        err = refused(png_claiming(12_000, 12_000), max_pixels=200_000_000)
    assert isinstance(err, ImageTooLarge)


@pytest.fixture(scope="module")
def fifty_megapixels() -> bytes:
    return encode(Image.new("L", (8200, 6200), 128), "PNG")


def test_a_fifty_megapixel_image_is_refused_with_the_limit(fifty_megapixels: bytes) -> None:
    assert len(fifty_megapixels) < 200_000
    err = refused(fifty_megapixels)
    assert isinstance(err, ImageTooLarge) and err.detail == MSG_TOO_MANY_PIXELS
    assert err.params == {"pixels": "50.9", "limit": "40"}
    assert message(err) == "The image has too many pixels (50.9 megapixels); the limit is 40 megapixels."


def test_the_pixel_limit_is_per_call() -> None:
    data = encode(Image.new("RGB", (2000, 1000)), "PNG")
    assert sanitize_image(data, **{**LIMITS, "max_pixels": 2_000_000}).width == 1600
    err = refused(data, max_pixels=1_999_999)
    assert err.params == {"pixels": "2", "limit": "1.9"}, "a size over its limit never reads as equal"


MAGICS = [b"", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\x89PNG\r\n\x1a\n",
          b"RIFF\x00\x10\x00\x00WEBPVP8 ", b"RIFF\x00\x10\x00\x00WEBPVP8L", b"<svg",
          b"\x00\x00\x00\x18ftypheic"]
FUZZ_LIMITS = {"max_bytes": 100_000, "max_pixels": 1_000_000, "max_side": 256}
SEEDS = [encode(noisy((24, 16)), "JPEG"), encode(noisy((24, 16)), "PNG"), encode(noisy((24, 16)), "WEBP"),
         encode(noisy((24, 16)), "JPEG", progressive=True)]


def sanitize_or_refuse(data: bytes) -> None:
    try:
        sanitize_image(data, **FUZZ_LIMITS)
    except (InvalidImage, ImageTooLarge) as err:
        assert err.detail, "every refusal carries a message"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MAGICS), st.binary(max_size=2_000))
def test_random_bytes_raise_only_our_errors(magic: bytes, tail: bytes) -> None:
    sanitize_or_refuse(magic + tail)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
       st.integers(0, 10_000) | st.none())
def test_damaged_real_images_raise_only_our_errors(seed: bytes, flips: list[tuple[int, int]],
                                                  cut: int | None) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    sanitize_or_refuse(bytes(data[:cut]))
