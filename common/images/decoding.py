"""The one decoder of untrusted image bytes (ingest, extract, re-extract and the web app's /predict).

Refused with a clear reason, never a crash: empty, over ``PP_MAX_IMAGE_BYTES``, not an image, a format
we do not read, truncated or corrupt, more pixels than ``PP_MAX_IMAGE_PIXELS``, more frames than
``PP_MAX_IMAGE_FRAMES``, or more memory to decode than ``PP_MAX_DECODE_BYTES`` (worked out from the
header, before decoding: :mod:`common.images.budget`; one decode at a time per process). Accepted images
come back as what people see: first frame of an animation, EXIF orientation applied, any mode normalized
to RGB (:mod:`common.images.normalize`).
"""

from __future__ import annotations

import io
import struct
import threading
import unicodedata
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.images import budget
from common.images.normalize import SWAPS_SIDES, orientation, rgb_array
from common.infra.settings import Settings

# Only these decoders are tried (never EPS/PostScript, which would run Ghostscript).
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")  # JPEG also opens MPO (phone photos)
MAX_NAME_CHARS = 512
REDUCED_SCALE = 8  # ingest's soundness check: JPEGs decode at 1/8, other formats are sampled every 8th pixel
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk type and its CRC: a PNG cut short lacks it
_JPEG_FORMATS = ("JPEG", "MPO")
# The memory budget is per process: a threaded web process decodes one image at a time, so two requests
# never hold two decodes' worth. Reentrant: a caller may hold it across decoding and its use of the pixels.
decode_slot = threading.RLock()


class InvalidImage(ValueError):
    """The bytes are not an image we accept; ``reason`` says why, for people."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ValidImage:
    rgb: np.ndarray = field(repr=False)  # H x W x 3 uint8, EXIF orientation applied
    width: int  # of the full upright image (``rgb`` may be a reduced copy)
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

    ``reduced=True`` (ingest: only "is it sound, how big?"): JPEGs decode at 1/8 scale and other formats
    are sampled every 8th pixel into ``rgb``; every byte is still decoded, so truncation is caught, at a
    fraction of the memory. Refusals (pixels, frames, memory budget) are those of a full decode, so an
    image ingest accepts is one extract can decode. ``width``/``height`` are those of the full upright image.
    """
    check_size(len(data), settings)
    if data.startswith(_PNG_SIGNATURE) and _PNG_END not in data:
        raise InvalidImage("corrupt or truncated image: PNG without its IEND chunk")
    try:
        with decode_slot, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                fmt = image.format or "unknown"
                frames = _check_header(image, settings)
                width, height = image.size
                if orientation(image) in SWAPS_SIDES:
                    width, height = height, width
                rgb = _decode(image, fmt, reduced)
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
        raise InvalidImage("image too large to decode: out of memory") from None
    if width < 1 or height < 1 or rgb.size == 0:
        raise InvalidImage("image has no pixels")
    return ValidImage(rgb, width, height, fmt, frames, display_name(name), len(data))


def _check_header(image: Image.Image, settings: Settings) -> int:
    """Refuse from the header alone: pixels, frames, memory. Returns the frame count."""
    width, height = image.size
    if width * height > settings.max_image_pixels:
        raise InvalidImage(f"decompression bomb refused: {width}x{height} pixels (limit {settings.max_image_pixels})")
    frames = getattr(image, "n_frames", 1)
    if frames > settings.max_image_frames:
        raise InvalidImage(f"too many frames: {frames} (limit {settings.max_image_frames})")
    if frames > 1:
        image.seek(0)
    reason = budget.over_budget(image.mode, width, height, settings.max_decode_bytes)
    if reason:
        raise InvalidImage(reason)
    return frames


def _decode(image: Image.Image, fmt: str, reduced: bool) -> np.ndarray:
    """Decode the first frame (JPEG at 1/8 when ``reduced``) and normalize it; the decoded image is freed."""
    step = 1
    if reduced and fmt in _JPEG_FORMATS:
        image.draft("RGB", (max(1, image.width // REDUCED_SCALE), max(1, image.height // REDUCED_SCALE)))
    elif reduced:
        step = REDUCED_SCALE
    image.load()
    return rgb_array(image, step)  # the decoded pixels are freed when the caller's ``with`` closes the image
