"""Band-by-band normalization equals Pillow's whole-image conversions: orientation, alpha, palette, gray."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from common.images import budget
from common.images.normalize import rgb_array


def _with_orientation(image: Image.Image, value: int) -> Image.Image:
    exif = Image.Exif()
    exif[0x0112] = value
    image.info["exif"] = exif.tobytes()  # kept by copy(), read by getexif()
    return image


@pytest.fixture
def tall_noise(monkeypatch) -> Image.Image:
    monkeypatch.setattr(budget, "BAND_PIXELS", 37 * 50)  # many bands, the last one partial
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (123, 37, 3), dtype=np.uint8))


@pytest.mark.parametrize("value", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(tall_noise, value):
    image = _with_orientation(tall_noise.copy(), value)
    expected = np.asarray(ImageOps.exif_transpose(image.copy()).convert("RGB"))
    assert np.array_equal(rgb_array(image), expected)


@pytest.mark.parametrize("value", range(1, 9))
def test_sampling_takes_every_8th_source_pixel_then_turns_upright(tall_noise, value):
    image = _with_orientation(tall_noise.copy(), value)
    sampled_source = _with_orientation(Image.fromarray(np.asarray(tall_noise)[::8, ::8]), value)
    expected = np.asarray(ImageOps.exif_transpose(sampled_source).convert("RGB"))
    assert np.array_equal(rgb_array(image, step=8), expected)


def test_alpha_is_composited_on_white_as_pillow_does(tall_noise):
    rng = np.random.default_rng(2)
    rgba = np.dstack([np.asarray(tall_noise), rng.integers(0, 256, (123, 37), dtype=np.uint8)])
    image = Image.fromarray(rgba, "RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    expected = np.asarray(Image.alpha_composite(white, image).convert("RGB")).astype(int)
    assert np.abs(rgb_array(image).astype(int) - expected).max() <= 1


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "LA", "PA"])
def test_other_modes_match_pillows_conversion(tall_noise, mode):
    image = tall_noise.convert(mode)
    expected = np.asarray(image.convert("RGB"))
    if mode in ("LA", "PA"):  # opaque: compositing changes nothing
        assert image.getextrema()[-1] == (255, 255)
    assert np.array_equal(rgb_array(image), expected)


@pytest.mark.parametrize(("values", "shift"), [(255, 0), (4095, 4), (65535, 8), (256, 1)])
def test_16_bit_gray_keeps_its_significant_bits(values, shift):
    gray = np.linspace(0, values, 64 * 32).astype(np.uint16).reshape(32, 64)
    out = rgb_array(Image.fromarray(gray))
    assert np.array_equal(out[..., 0], (gray >> shift).astype(np.uint8))


def test_32_bit_gray_with_negative_values_is_clipped():
    gray = np.array([[-5, 0, 100, 255]], dtype=np.int32)
    assert rgb_array(Image.fromarray(gray, mode="I"))[0, :, 0].tolist() == [0, 0, 100, 255]


def test_float_gray_in_0_to_1_is_scaled():
    gray = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    assert rgb_array(Image.fromarray(gray, mode="F"))[0, :, 0].tolist() == [0, 128, 255]
