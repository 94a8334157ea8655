"""Images for tests, made from what dependencies ship (scikit-image's astronaut, matplotlib's Grace Hopper)
or generated; nothing is committed to the repository."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def astronaut() -> np.ndarray:
    from skimage.data import astronaut as _astronaut

    return np.ascontiguousarray(_astronaut())


def grace_hopper() -> np.ndarray:
    from matplotlib.cbook import get_sample_data

    with get_sample_data("grace_hopper.jpg") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def encode(rgb: np.ndarray | Image.Image, fmt: str = "JPEG", **save_kwargs) -> bytes:
    image = rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)
    out = io.BytesIO()
    image.save(out, format=fmt, **save_kwargs)
    return out.getvalue()


def noise(width: int = 400, height: int = 300, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def collage(*faces: np.ndarray, gap: int = 40) -> np.ndarray:
    """Images side by side on a grey canvas (a multi-face image)."""
    height = max(f.shape[0] for f in faces)
    width = sum(f.shape[1] for f in faces) + gap * (len(faces) + 1)
    canvas = np.full((height + 2 * gap, width, 3), 128, dtype=np.uint8)
    x = gap
    for face in faces:
        canvas[gap : gap + face.shape[0], x : x + face.shape[1]] = face
        x += face.shape[1] + gap
    return canvas


def good_images() -> dict[str, bytes]:
    """Distinct valid images: name -> bytes, with the faces dlib-hog finds in each."""
    a, g = astronaut(), grace_hopper()
    return {
        "astronaut.jpg": encode(a),
        "grace_hopper.png": encode(g, "PNG"),
        "people/astronaut_flipped.jpg": encode(a[:, ::-1].copy()),
        "people/both.jpg": encode(collage(a, g)),
        "noise.png": encode(noise(), "PNG"),
    }


GOOD_FACES = {
    "astronaut.jpg": 1,
    "grace_hopper.png": 1,
    "people/astronaut_flipped.jpg": 1,
    "people/both.jpg": 2,
    "noise.png": 0,
}


def bad_images(max_bytes: int) -> dict[str, bytes]:
    jpeg = encode(astronaut())
    return {
        "empty.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "notes.jpg": b"this is a text file with an image name\n" * 10,
        "huge.jpg": b"\xff\xd8\xff" + b"\0" * (max_bytes + 1),
    }


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
