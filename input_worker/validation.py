"""Validation of untrusted image bytes: a clear reason for every refusal, never a crash.

Refused: empty, over the size cap, not an image, a format we do not read,
truncated or corrupt, more pixels than the decompression-bomb cap, an
animation with more frames than ``max_image_frames``. Accepted
images come back as what people see: first frame of an animation, EXIF
orientation applied, CMYK / 16-bit / palette / alpha normalized to RGB.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.face_models.image_io import normalize_to_rgb, to_array
from common.settings import Settings

# Only these decoders are tried (never EPS/PostScript, which would run Ghostscript).
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")  # JPEG also opens MPO (phone photos)
MAX_NAME_CHARS = 512
_ORIENTATION = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk type and its CRC: a PNG cut short lacks it


class InvalidImage(ValueError):
    """The bytes are not an image we accept; ``reason`` says why, for people."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ValidImage:
    rgb: np.ndarray = field(repr=False)  # H x W x 3 uint8, EXIF orientation applied
    width: int
    height: int
    format: str  # Pillow's name: JPEG, PNG, ...
    frames: int
    name: str  # display name, metadata only (never a path)
    size_bytes: int

    @property
    def suffix(self) -> str:
        return {"JPEG": ".jpg", "MPO": ".jpg", "TIFF": ".tif"}.get(self.format, f".{self.format.lower()}")


def display_name(name: str) -> str:
    """A printable name to store as metadata: NFC, undecodable bytes and control characters replaced."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = unicodedata.normalize("NFC", text)
    text = "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") else ch for ch in text)
    return text[:MAX_NAME_CHARS] or "(unnamed)"


def check_size(size: int, settings: Settings) -> None:
    if size == 0:
        raise InvalidImage("empty file (0 bytes)")
    if size > settings.max_image_bytes:
        raise InvalidImage(f"file too large: {size} bytes (limit {settings.max_image_bytes})")


def load_image(data: bytes, name: str, settings: Settings, reduced: bool = False) -> ValidImage:
    """Decode and normalize untrusted bytes, or raise :class:`InvalidImage` with the reason.

    ``reduced=True`` (ingest: only "is it sound, how big?") lets JPEGs decode at 1/8 scale: every byte is
    still decoded, so truncation is caught, at a fraction of the cost. ``width``/``height`` stay those of
    the full upright image; ``rgb`` is then the small copy.
    """
    check_size(len(data), settings)
    if data.startswith(_PNG_SIGNATURE) and _PNG_END not in data:
        raise InvalidImage("corrupt or truncated image: PNG without its IEND chunk")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                fmt = image.format or "unknown"
                width, height = image.size
                if width * height > settings.max_image_pixels:
                    raise InvalidImage(
                        f"decompression bomb refused: {width}x{height} pixels (limit {settings.max_image_pixels})"
                    )
                frames = getattr(image, "n_frames", 1)
                if frames > settings.max_image_frames:
                    raise InvalidImage(f"too many frames: {frames} (limit {settings.max_image_frames})")
                if reduced and fmt in ("JPEG", "MPO"):
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                    if image.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8):
                        width, height = height, width
                    rgb = to_array(normalize_to_rgb(image))
                else:
                    rgb = to_array(normalize_to_rgb(image))
                    height, width = rgb.shape[:2]
    except InvalidImage:
        raise
    except UnidentifiedImageError:
        accepted = ", ".join(ALLOWED_FORMATS)
        raise InvalidImage(f"not an image, or a format we do not read (accepted: {accepted})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(f"decompression bomb refused: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise InvalidImage(f"corrupt or truncated image: {exc}") from None
    except MemoryError:
        raise InvalidImage("image too large to decode") from None
    if width < 1 or height < 1 or rgb.size == 0:
        raise InvalidImage("image has no pixels")
    return ValidImage(rgb, width, height, fmt, frames, display_name(name), len(data))
