"""Real images built with Pillow for the file service tests, and a reader of JPEG segments."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageCms

SECRET_MAKE = "SecretPhoneMaker"
SECRET_MODEL = "SecretModel-X1"
SECRET_COMMENT = b"secret-comment-12-rue-des-lilas"
SECRET_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-xmp-home</x:xmpmeta>'
GPS_LATITUDE = (48.0, 51.0, 29.6)
GPS_LONGITUDE = (2.0, 17.0, 40.2)

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000, "max_side": 1600}


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def noisy(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """An image with texture, so that its compressed data is not trivially short."""
    grey = Image.effect_noise(size, 60).convert("L")
    return grey if mode == "L" else Image.merge("RGB", (grey, grey.rotate(90, expand=False), grey))


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = SECRET_MAKE  # Make
    exif[0x0110] = SECRET_MODEL  # Model
    exif[0x010E] = "secret-description"  # ImageDescription
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)  # the GPS IFD
    gps[1] = "N"
    gps[2] = GPS_LATITUDE
    gps[3] = "E"
    gps[4] = GPS_LONGITUDE
    gps[6] = 35.0  # GPSAltitude
    return exif


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(noisy(size), "JPEG", quality=90, exif=gps_exif(), comment=SECRET_COMMENT, xmp=SECRET_XMP,
                  icc_profile=icc)
    check = Image.open(io.BytesIO(data))
    assert check.info["icc_profile"] == icc
    assert check.getexif().get_ifd(0x8825)[2] == GPS_LATITUDE, "the fixture must really carry GPS"
    assert check.info["comment"] == SECRET_COMMENT and SECRET_XMP in data
    return data


def rotated_jpeg() -> bytes:
    """Stored 80x40 (left half red, right half blue) with Orientation=6: seen upright it is 40x80,
    red on top and blue at the bottom."""
    img = Image.new("RGB", (80, 40), "blue")
    img.paste((255, 0, 0), (0, 0, 40, 40))
    return encode(img, "JPEG", quality=95, exif=gps_exif(orientation=6))


def transparent_png() -> bytes:
    img = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (20, 20, 40, 40))
    info = {"pnginfo": _png_text("Comment", "secret-png-text")}
    return encode(img, "PNG", exif=gps_exif(), **info)


def _png_text(key: str, value: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    info.add_itxt("XML:com.adobe.xmp", SECRET_XMP.decode())
    return info


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims ``width`` x ``height`` (a crafted bomb)."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def jpeg_segments(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments up to the start of scan (APPn = 0xE0-0xEF, COM = 0xFE)."""
    assert data[:2] == b"\xff\xd8"
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[pos + 2: pos + 4])
        pos += 2 + length
    return markers


def rational_bytes(values: tuple[float, ...]) -> list[bytes]:
    """How a TIFF writer may store these values as rationals (both byte orders)."""
    out = []
    for v in values:
        for order in (">", "<"):
            for denominator in (1, 10, 100, 1000):
                out.append(struct.pack(order + "II", round(v * denominator), denominator))
    return out
