"""A generator of hostile files: ≥ 1,000 inputs that must each be rejected with a reason.

Every case is made here from bytes (no downloads, no committed images):
zero-byte files, truncated JPEG/PNG/GIF at many lengths, non-images with image
names (text, HTML, PDF, ZIP, ELF, SVG), decompression bombs (a 50,000 x 50,000
PNG header, GIF and BMP with huge declared sizes), a 79 MP RGBA PNG under the
pixel cap but over the decode memory budget, JPEGs with an oversized or
malformed EXIF segment, PNGs whose chunk length claims gigabytes, an animated
GIF with 1,000 frames, and names with path traversal and control characters.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class HostileFile:
    name: str  # as a user would send it (may hold '..', '/', control characters)
    data: bytes
    kind: str  # what is wrong with it

    @property
    def safe_filename(self) -> str:
        """A name that can exist in a folder (no '/', no NUL), keeping the hostile flavour."""
        return self.name.replace("/", "\u2215").replace("\x00", "")


def _png_chunk(kind: bytes, payload: bytes, length: int | None = None) -> bytes:
    size = len(payload) if length is None else length
    return struct.pack(">I", size) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def good_jpeg(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (120, 80, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def good_png(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def good_gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (32, 32), 3).save(buf, "GIF")
    return buf.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def gif_bomb() -> bytes:
    header = b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00"
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return header + image + b"\x3b"


def bmp_bomb() -> bytes:
    width, height = 40_000, 40_000
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info + b"\x00" * 64


def png_oversized_chunk(claimed: int = 0x7FFFFFF0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"tEXt", b"a" * 64, length=claimed)


def jpeg_huge_exif(exif_bytes: int = 65_000) -> bytes:
    base = good_jpeg()
    payload = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 0xFFFF) + b"\xff" * exif_bytes
    payload = payload[:65_533]
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    # an EXIF segment whose directory claims 65,535 entries running past its end, then a truncated body
    return base[:2] + segment + base[2 : len(base) // 3]


def jpeg_lying_exif_length() -> bytes:
    base = good_jpeg()
    return base[:2] + b"\xff\xe1\xff\xff" + b"Exif\x00\x00" + b"\x00" * 100


def large_rgba_png(side: int = 8900) -> bytes:
    """A ``side`` x ``side`` RGBA PNG (8900: 79 MP, under the 80 MP pixel cap) that compresses to ~300 KB: a
    half-transparent gradient, so the decoder must composite it. Decoded naively it took 1.86 GB."""
    row = Image.linear_gradient("L").resize((side, 1))
    alpha = Image.new("L", (side, side), 128)
    gray = row.resize((side, side), Image.Resampling.NEAREST)
    image = Image.merge("RGBA", (gray, gray, Image.new("L", (side, side), 40), alpha))
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def animated_gif(frames: int = 1000) -> bytes:
    """``frames`` distinct frames (a moving dot: Pillow merges consecutive identical frames when saving)."""
    images = []
    for i in range(frames):
        frame = Image.new("L", (16, 16), 0)
        frame.putpixel((i % 16, (i // 16) % 16), 255)
        images.append(frame)
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=10, loop=0, optimize=False)
    return buf.getvalue()


NON_IMAGES = {
    "text": b"hello, this is not a picture\n" * 20,
    "html": b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
    "pdf": b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    "zip": b"PK\x03\x04" + b"\x00" * 60,
    "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 120,
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "json": b'{"image": "no"}',
    "random": bytes((i * 7919 + 13) % 256 for i in range(4096)),
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif")
HOSTILE_NAMES = (
    "../../etc/passwd.jpg", "/etc/shadow.png", "..\\..\\windows\\system32.jpg", "a/../../b.jpg",
    "bell\x07.jpg", "newline\nname.png", "tab\tname.gif", "esc\x1b[31mred.jpg", "del\x7f.png",
    "rtl\u202eexe.jpg", "zero\u200bwidth.png", "cafe\u0301.jpg", ".hidden.jpg", "CON.jpg", " spaces .png",
)  # fmt: skip


def generate(minimum: int = 1000) -> Iterator[HostileFile]:
    """Yield at least ``minimum`` hostile files, every one of which must be rejected."""
    count = 0

    def emit(name: str, data: bytes, kind: str) -> HostileFile:
        nonlocal count
        count += 1
        return HostileFile(name, data, kind)

    for suffix in IMAGE_SUFFIXES:
        for i in range(10):
            yield emit(f"empty-{i}{suffix}", b"", "zero-byte")
    jpeg, png, gif = good_jpeg((96, 72)), good_png((96, 72)), good_gif()
    for source, label in ((jpeg, "jpeg"), (png, "png"), (gif, "gif")):
        step = max(1, (len(source) - 2) // 150)
        for cut in range(1, len(source) - 2, step):
            yield emit(f"truncated-{label}-{cut}.{label}", source[:cut], f"truncated {label}")
    for kind, data in NON_IMAGES.items():
        for suffix in IMAGE_SUFFIXES:
            for variant in range(3):
                yield emit(f"{kind}-{variant}{suffix}", data + bytes([variant]) * variant, f"{kind} named as image")
    yield emit("bomb-50000x50000.png", png_bomb(), "decompression bomb (PNG)")
    yield emit("bomb-gif-65535.gif", gif_bomb(), "decompression bomb (GIF)")
    yield emit("bomb-bmp-40000.bmp", bmp_bomb(), "decompression bomb (BMP)")
    for size in (1_000, 30_000, 65_000):
        yield emit(f"huge-exif-{size}.jpg", jpeg_huge_exif(size), "huge EXIF, truncated body")
    yield emit("lying-exif-length.jpg", jpeg_lying_exif_length(), "EXIF segment length past the end")
    for claimed in (0x7FFFFFF0, 0x40000000, 0x10000000):
        yield emit(f"png-oversized-chunk-{claimed:x}.png", png_oversized_chunk(claimed), "PNG chunk claims GBs")
    yield emit("animated-1000-frames.gif", animated_gif(1000), "animated GIF with 1,000 frames")
    yield emit("rgba-8900x8900.png", large_rgba_png(), "79 MP RGBA PNG: 307 KB that decoded to 1.86 GB")
    for name in HOSTILE_NAMES:
        yield emit(name, NON_IMAGES["text"] + name.encode("utf-8", "replace"), "hostile name, not an image")
    filler = 0
    while count < minimum:
        yield emit(f"filler-random-{filler}.jpg", bytes((filler * 31 + i) % 256 for i in range(200)), "random bytes")
        filler += 1
