"""Distinct photos with faces, made from images that dependencies ship (no downloads, nothing committed).

scikit-image ships ``astronaut`` (Eileen Collins) and matplotlib ships
``grace_hopper.jpg``; variations of crop, scale, flip and brightness give as
many distinct files (distinct SHA-256) as a test needs, each with one face.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance


@lru_cache(maxsize=1)
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


@lru_cache(maxsize=1)
def grace_hopper() -> Image.Image:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        return Image.open(fh).convert("RGB")


# Face regions (left, top, right, bottom) with generous margins, in each source's pixels.
_SOURCES = {
    "astronaut": (astronaut, (120, 10, 300, 230)),
    "grace_hopper": (grace_hopper, (80, 40, 440, 440)),
}


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def variant(index: int) -> tuple[str, Image.Image]:
    """The ``index``-th distinct face photo: (person, image)."""
    person = "astronaut" if index % 2 == 0 else "grace_hopper"
    loader, (left, top, right, bottom) = _SOURCES[person]
    rng = np.random.default_rng(index)
    source = loader()
    dx, dy = (int(v) for v in rng.integers(-12, 13, size=2))
    box = (max(0, left + dx), max(0, top + dy), min(source.width, right + dx), min(source.height, bottom + dy))
    image = source.crop(box)
    side = int(rng.integers(220, 330))
    image = image.resize((side, int(side * image.height / image.width)))
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.85, 1.15)))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return person, image


def write_folder(folder: Path, count: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        person, image = variant(i)
        path = folder / f"{person}-{i:04d}.jpg"
        path.write_bytes(jpeg_bytes(image))
        paths.append(path)
    return paths
