"""Benchmark (not a test): the share of faces extraction finds in hard variants of real photos.

    python -m benchmarks.recall [--source ../shared/datasets/faces-small] [--sizes 100,130,160,200]
                                [--collages 2] [--old] [--json out.json]

From every photo of ``--source`` (read in place, nothing copied into the repository) it makes:
- ``as taken``: the photo itself, as a plain JPEG;
- ``turned 90 / 180 / 270``: the photo turned clockwise and saved without an EXIF tag (a scan, a crawl);
- ``long side N``: the whole photo shrunk to N pixels on its long side (thumbnails);
- ``group collage``: 4,000 x 3,000 px canvases with the photos' faces pasted at 40-120 px (a large group photo).

The faces to find are those the detector finds on the photo as taken (for thumbnails, only those still at
least ``--min-face`` pixels; smaller ones are counted apart), and the pasted faces of a collage. Every
variant is stored and extracted by the input worker's own code (``input_worker.extract.extract_image``:
decode, every detection pass, embedding, rows in Cassandra, crops), in a throw-away keyspace, Redis DB and
blob folder; a face counts as found when a stored box overlaps it (IoU >= 0.3) in the image as displayed.
``--old`` runs the same with the extra passes switched off (the behaviour before issue 31).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.isolated import ROOT, isolated

DEFAULT_SOURCE = ROOT.parent / "shared" / "datasets" / "faces-small"
MATCH_IOU = 0.3
COLLAGE_SIZE = (4000, 3000)
OLD_PATH = {"detection_orientation_search": False, "detection_min_side": 0, "detection_tile_min_face": 0}

Box = tuple[int, int, int, int]


@dataclass
class Variant:
    """One generated image and the boxes of the faces in it as displayed (upright)."""

    kind: str
    name: str
    jpeg: bytes = field(repr=False)
    faces: list[Box]
    too_small: int = 0  # faces of the photo left out: smaller than --min-face in this variant
    turn: int = 0  # the rotation that shows it upright (degrees clockwise)


def encode(rgb: np.ndarray, quality: int = 92) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="JPEG", quality=quality)  # no EXIF written
    return out.getvalue()


def photos(folder: Path) -> list[tuple[str, np.ndarray]]:
    """(relative name, upright RGB) of every image under ``folder``, decoded as the workers decode them."""
    from common.images import InvalidImage, load_image
    from common.infra.settings import get_settings

    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            try:
                out.append((str(path.relative_to(folder)), load_image(path.read_bytes(), path.name,
                                                                      get_settings()).rgb))  # fmt: skip
            except InvalidImage:
                continue
    return out


def reference_boxes(rgb: np.ndarray) -> list[Box]:
    """The faces the detector finds on the photo as taken, with the passes of before issue 31."""
    from common.face_models import extract_faces
    from common.infra.settings import get_settings

    settings = get_settings().model_copy(update=OLD_PATH)
    return [face.box for face in extract_faces(rgb, None, settings)]


def shrink(rgb: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    height, width = rgb.shape[:2]
    scale = long_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS)), size[0] / width


def scaled(box: Box, scale: float) -> Box:
    return tuple(round(v * scale) for v in box)  # type: ignore[return-value]


def variants(sources: list[tuple[str, np.ndarray]], sizes: list[int], collages: int, min_face: int,
             seed: int = 31) -> list[Variant]:  # fmt: skip
    out: list[Variant] = []
    refs = [(name, rgb, reference_boxes(rgb)) for name, rgb in sources]
    for name, rgb, boxes in refs:
        if not boxes:
            continue
        out.append(Variant("as taken", name, encode(rgb), boxes))
        for turn in (90, 180, 270):
            sideways = np.rot90(rgb, -turn // 90)  # turned clockwise: shown upright by turning it back
            out.append(Variant(f"turned {turn}", name, encode(sideways), boxes, turn=(360 - turn) % 360))
        for side in sizes:
            small, scale = shrink(rgb, side)
            kept = [scaled(b, scale) for b in boxes if min(b[2], b[3]) * scale >= min_face]
            if kept:
                out.append(Variant(f"long side {side}", name, encode(small), kept, len(boxes) - len(kept)))
    rng = np.random.default_rng(seed)
    faces = [(rgb, box) for _name, rgb, boxes in refs for box in boxes]
    for index in range(collages):
        canvas, pasted = collage(faces, rng)
        out.append(Variant("group collage 4000 px, faces 40-120 px", f"collage-{index}", encode(canvas), pasted))
    return out


def collage(faces: list[tuple[np.ndarray, Box]], rng: np.random.Generator) -> tuple[np.ndarray, list[Box]]:
    """A 4,000 x 3,000 canvas (a noisy grey-brown background) with faces pasted in a jittered grid, each
    with its surroundings, scaled so the face box is 40-120 px; returns the canvas and the pasted boxes."""
    width, height = COLLAGE_SIZE
    base = rng.normal(115, 18, (height // 8, width // 8, 3)).clip(0, 255).astype(np.uint8)
    canvas = np.asarray(Image.fromarray(base).resize((width, height), Image.Resampling.BILINEAR)).copy()
    cell = 300  # a 120 px face with 1x margin on each side fits in a cell
    pasted: list[Box] = []
    order = rng.permutation(len(faces))
    slot = 0
    for row in range(height // cell):
        for col in range(width // cell):
            rgb, (left, top, w, h) = faces[order[slot % len(faces)]]
            slot += 1
            target = int(rng.integers(40, 121))
            scale = target / max(w, h)
            margin = int(max(w, h) * 0.9)
            x0, y0 = max(0, left - margin), max(0, top - margin)
            x1, y1 = min(rgb.shape[1], left + w + margin), min(rgb.shape[0], top + h + margin)
            patch = Image.fromarray(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
            size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
            patch_rgb = np.asarray(patch.resize(size, Image.Resampling.LANCZOS))
            jitter = cell - max(size)
            px = col * cell + int(rng.integers(0, max(1, jitter)))
            py = row * cell + int(rng.integers(0, max(1, jitter)))
            ph, pw = min(patch_rgb.shape[0], height - py), min(patch_rgb.shape[1], width - px)
            canvas[py : py + ph, px : px + pw] = patch_rgb[:ph, :pw]
            pasted.append((px + round((left - x0) * scale), py + round((top - y0) * scale), round(w * scale),
                           round(h * scale)))  # fmt: skip
    return canvas, pasted


def found_share(expected: list[Box], stored: list[Box]) -> int:
    """How many expected faces a stored box overlaps (IoU >= 0.3), each stored box used once."""
    from common.face_models.geometry import iou

    free = list(stored)
    hits = 0
    for box in expected:
        best = max(free, key=lambda s: iou(box, s), default=None)
        if best is not None and iou(box, best) >= MATCH_IOU:
            free.remove(best)
            hits += 1
    return hits


def run(items: list[Variant], settings) -> dict[str, dict]:
    """Store and extract every variant through ``input_worker.extract.extract_image``; figures per kind."""
    from common.db import get_database
    from common.infra.messages import ExtractImage
    from common.repositories import faces, images
    from common.storage import content_key, get_blob_store, sha256_hex
    from input_worker.extract import extract_image

    db, store = get_database(), get_blob_store()
    out: dict[str, dict] = {}
    for item in items:
        image_id = sha256_hex(item.jpeg)
        key = content_key("images", image_id, ".jpg")
        store.put(key, item.jpeg)
        images.insert_if_absent(db, images.Image(image_id, key, "bench", item.name, len(item.jpeg), 0, 0, "JPEG",
                                                 images.STORED, None, None, None, None, None, None))  # fmt: skip
        started = time.perf_counter()
        extract_image(db, ExtractImage(image_id=image_id, blob_key=key), settings, send=lambda _message: None)
        seconds = time.perf_counter() - started
        row = images.get(db, image_id)
        stored = [face.box for face in faces.for_image(db, image_id)]
        hits = found_share(item.faces, stored)
        figures = out.setdefault(item.kind, {"images": 0, "faces": 0, "found": 0, "extra_boxes": 0,
                                             "too_small": 0, "right_turn": 0, "seconds": 0.0})  # fmt: skip
        figures["images"] += 1
        figures["faces"] += len(item.faces)
        figures["found"] += hits
        figures["extra_boxes"] += max(0, len(stored) - hits)
        figures["too_small"] += item.too_small
        figures["right_turn"] += int(row is not None and row.rotation == item.turn)
        figures["seconds"] += seconds
    for figures in out.values():
        figures["found_pct"] = round(100 * figures["found"] / max(1, figures["faces"]), 1)
        figures["seconds_per_image"] = round(figures.pop("seconds") / max(1, figures["images"]), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of photos (read in place)")
    parser.add_argument("--sizes", default="100,130,160,200", help="long sides of the shrunk copies")
    parser.add_argument("--collages", type=int, default=2, help="4,000 px group collages (120 faces each)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N photos (0: all)")
    parser.add_argument("--min-face", type=int, default=24, help="smaller faces of a thumbnail are not counted")
    parser.add_argument("--old", action="store_true", help="extra passes off (the behaviour before issue 31)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--redis-url", default=os.environ.get("PP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"no folder {args.source}", file=sys.stderr)
        return 2
    redis_db = int(args.redis_url.rsplit("/", 1)[-1] or 15)
    with isolated(redis_db, "recall"):
        from common.infra.settings import get_settings

        settings = get_settings()
        if args.old:
            settings = settings.model_copy(update=OLD_PATH)
        sources = photos(args.source)[: args.limit or None]
        items = variants(sources, [int(s) for s in args.sizes.split(",") if s], args.collages, args.min_face)
        print(f"{len(sources)} photos -> {len(items)} images, detector {settings.face_detector.value}"
              f"{' (extra passes off)' if args.old else ''}")  # fmt: skip
        figures = run(items, settings)
    width = max(len(kind) for kind in figures)
    for kind, f in figures.items():
        turn = f", right turn {f['right_turn']}/{f['images']}" if kind.startswith("turned") else ""
        small = f", {f['too_small']} faces under {args.min_face} px not counted" if f["too_small"] else ""
        print(f"{kind:<{width}}  {f['found']:4d} / {f['faces']:<4d} faces found ({f['found_pct']:5.1f} %), "
              f"{f['extra_boxes']} other boxes, {f['seconds_per_image']:.2f} s/image{turn}{small}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"detector": settings.face_detector.value, "old_path": args.old,
                                         "photos": len(sources), "min_face": args.min_face,
                                         "variants": figures}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
