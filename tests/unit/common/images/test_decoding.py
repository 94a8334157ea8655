"""Untrusted bytes: every bad case gets a clear reason; every good one becomes RGB as people see it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from common.face_models import extract_faces
from common.images import InvalidImage, display_name, load_image
from common.infra.settings import Settings
from tests.unit.input_worker.sample_images import astronaut, encode, grace_hopper


@pytest.fixture
def settings() -> Settings:
    return Settings(max_image_bytes=2 * 1024 * 1024, max_image_pixels=4_000_000)


def reason_for(data: bytes, settings: Settings) -> str:
    with pytest.raises(InvalidImage) as info:
        load_image(data, "x.jpg", settings)
    return info.value.reason


def test_zero_byte_file_is_refused_as_empty(settings):
    assert "empty" in reason_for(b"", settings)


def test_truncated_jpeg_is_refused_as_truncated(settings):
    jpeg = encode(astronaut())
    assert "truncated" in reason_for(jpeg[: len(jpeg) // 2], settings)


def test_text_with_an_image_name_is_refused_as_not_an_image(settings):
    assert "not an image" in reason_for(b"hello, I am not a picture\n" * 20, settings)


def test_unsupported_format_is_refused(settings):
    ico = encode(astronaut(), "ICO")
    assert "not an image, or a format we do not read" in reason_for(ico, settings)


def test_postscript_is_never_interpreted(settings):
    assert "format we do not read" in reason_for(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", settings)


def test_file_over_the_size_limit_is_refused_with_the_limit(settings):
    reason = reason_for(b"\xff\xd8" + b"\0" * settings.max_image_bytes, settings)
    assert "too large" in reason and str(settings.max_image_bytes) in reason


def test_decompression_bomb_is_refused_before_decoding(settings):
    # A 10000x10000 PNG compresses to a few KB but would decode to 300 MB.
    bomb = encode(Image.new("L", (10_000, 10_000)), "PNG", optimize=True)
    assert len(bomb) < settings.max_image_bytes
    assert "decompression bomb" in reason_for(bomb, settings)


def test_exif_orientation_is_applied_so_faces_are_upright():
    upright = grace_hopper()  # 512 wide, 600 high
    stored_sideways = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # 600 wide, 512 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(stored_sideways, "JPEG", exif=exif.tobytes(), quality=95)

    image = load_image(data, "sideways.jpg", Settings())

    assert (image.width, image.height) == (512, 600)
    assert np.abs(image.rgb.astype(int) - upright.astype(int)).mean() < 8
    assert len(extract_faces(image.rgb)) == 1  # a sideways face would not be found


@pytest.mark.parametrize(
    "mode",
    ["CMYK", "P", "RGBA", "LA", "L", "I;16", "I"],
)
def test_every_mode_becomes_8_bit_rgb(mode):
    source = Image.fromarray(astronaut())
    if mode == "I;16":
        gray = np.asarray(source.convert("L"), dtype=np.uint16) * 257
        image = Image.fromarray(gray)  # 16-bit grayscale
        assert image.mode == "I;16"
    elif mode == "I":
        image = Image.fromarray(np.asarray(source.convert("L"), dtype=np.int32) * 257, mode="I")
    else:
        image = source.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I") else "PNG"
    loaded = load_image(encode(image, fmt), f"x.{fmt.lower()}", Settings())
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (512, 512, 3)
    # 16-bit values are scaled, not clipped to white.
    assert 40 < loaded.rgb.mean() < 200
    assert len(extract_faces(loaded.rgb)) == 1


def test_transparent_pixels_become_white_not_black():
    rgba = np.zeros((50, 60, 4), dtype=np.uint8)  # fully transparent black
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), "clear.png", Settings())
    assert loaded.rgb.min() == 255


def test_palette_with_transparency_is_composited():
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.info["transparency"] = 0
    loaded = load_image(encode(palette, "PNG", transparency=0), "p.png", Settings())
    assert loaded.rgb.min() == 255


def test_animated_gif_uses_the_first_frame():
    first = Image.fromarray(astronaut()).convert("P", palette=Image.Palette.ADAPTIVE)
    second = Image.new("P", first.size, 0)
    out = io.BytesIO()
    first.save(out, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)

    loaded = load_image(out.getvalue(), "anim.gif", Settings())

    assert loaded.frames == 2 and loaded.format == "GIF"
    assert len(extract_faces(loaded.rgb)) == 1  # the astronaut frame, not the blank one


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.jpg", "../../etc/passwd.jpg"),
        ("/absolute/path/x.jpg", "/absolute/path/x.jpg"),
        ("evil\x00name\x1b[31m.jpg", "evil\ufffdname\ufffd[31m.jpg"),
        ("caf\u0065\u0301.jpg", "caf\u00e9.jpg"),  # NFC
        ("bad\udcffbytes.jpg", "bad\ufffdbytes.jpg"),  # undecodable file-system bytes
        ("", "(unnamed)"),
    ],
)
def test_names_are_kept_as_printable_metadata(raw, shown):
    assert display_name(raw) == shown


def test_a_hostile_name_never_changes_how_an_image_loads():
    image = load_image(encode(astronaut()), "../../../../tmp/x\n.jpg", Settings())
    assert image.name == "../../../../tmp/x\ufffd.jpg"
    assert (image.width, image.height, image.format) == (512, 512, "JPEG")


def test_reduced_check_still_catches_truncation_and_reports_full_upright_size():
    jpeg = encode(grace_hopper())
    with pytest.raises(InvalidImage, match="truncated"):
        load_image(jpeg[: len(jpeg) * 2 // 3], "x.jpg", Settings(), reduced=True)
    sideways = Image.fromarray(grace_hopper()).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    checked = load_image(encode(sideways, "JPEG", exif=exif.tobytes()), "s.jpg", Settings(), reduced=True)
    assert (checked.width, checked.height) == (512, 600)
    assert checked.rgb.shape[0] < 600  # decoded small, not at full size


def test_an_image_over_the_memory_budget_is_refused_from_its_header_with_the_need_and_the_limit():
    # 3000 x 3000 RGBA: 36 MB decoded + 27 MB RGB copy; a 40 MiB budget refuses it, a 100 MiB one does not.
    data = encode(Image.new("RGBA", (3000, 3000), (1, 2, 3, 4)), "PNG")
    tight = Settings(max_decode_bytes=40 * 1024 * 1024)
    reason = reason_for(data, tight)
    assert "too large to decode" in reason and "3000x3000" in reason and "RGBA" in reason and "40 MiB" in reason
    with pytest.raises(InvalidImage, match="too large to decode"):
        load_image(data, "x.png", tight, reduced=True)  # ingest refuses what extract could not decode
    assert load_image(data, "x.png", Settings(max_decode_bytes=100 * 1024 * 1024)).rgb.shape == (3000, 3000, 3)


def test_the_same_pixels_cost_less_in_a_cheaper_mode():
    gray = encode(Image.new("L", (3000, 3000), 9), "PNG")  # 9 MB decoded + 27 MB RGB copy
    assert load_image(gray, "g.png", Settings(max_decode_bytes=64 * 1024 * 1024)).rgb.shape == (3000, 3000, 3)


def test_a_16_bit_png_holding_8_bit_values_keeps_them_instead_of_turning_black():
    # Pillow's convert("I;16") keeps 0..255: a naive >> 8 turned such an image black (0 faces).
    image = Image.fromarray(astronaut()).convert("L").convert("I;16")
    loaded = load_image(encode(image, "PNG"), "gray16.png", Settings())
    expected = np.asarray(Image.fromarray(astronaut()).convert("L"))
    assert np.array_equal(loaded.rgb[..., 0], expected) and np.array_equal(loaded.rgb[..., 2], expected)
    assert len(extract_faces(loaded.rgb)) == 1


def test_12_bit_data_in_a_16_bit_png_is_scaled_by_its_significant_bits():
    gray = np.asarray(Image.fromarray(grace_hopper()).convert("L"), dtype=np.uint16) << 4
    loaded = load_image(encode(Image.fromarray(gray), "PNG"), "gray12.png", Settings())
    assert np.array_equal(loaded.rgb[..., 1], (gray >> 4).astype(np.uint8))


def test_reduced_decoding_of_a_png_samples_it_instead_of_copying_it_whole():
    data = encode(Image.new("RGB", (801, 400), (5, 6, 7)), "PNG")
    checked = load_image(data, "x.png", Settings(), reduced=True)
    assert (checked.width, checked.height) == (801, 400)
    assert checked.rgb.shape == (50, 101, 3) and checked.rgb[0, 0].tolist() == [5, 6, 7]
