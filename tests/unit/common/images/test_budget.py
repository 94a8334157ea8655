"""The memory a decode takes, from the header: bytes per pixel of every Pillow mode, the RGB copy, one band."""

from __future__ import annotations

import pytest

from common.images import budget
from common.infra.settings import Settings


@pytest.mark.parametrize(
    ("mode", "per_pixel"),
    [("1", 1), ("L", 1), ("P", 1), ("I;16", 2), ("I;16B", 2), ("I;16L", 2), ("I;16N", 2), ("LA", 4), ("La", 4),
     ("PA", 4), ("RGB", 4), ("RGBA", 4), ("RGBa", 4), ("RGBX", 4), ("CMYK", 4), ("YCbCr", 4), ("LAB", 4),
     ("HSV", 4), ("I", 4), ("F", 4)],
)  # fmt: skip
def test_storage_per_pixel_is_pillows(mode, per_pixel):
    assert budget.storage_bytes_per_pixel(mode) == per_pixel


def test_peak_is_decoded_image_plus_rgb_copy_plus_one_band():
    width, height = 8900, 8900
    pixels = width * height
    expected = pixels * 4 + pixels * 3 + budget.BAND_PIXELS * budget.BAND_BYTES_PER_PIXEL
    assert budget.decode_peak_bytes("RGBA", width, height) == expected
    assert budget.decode_peak_bytes("L", width, height) == pixels * 1 + pixels * 3 + budget.BAND_BYTES


def test_a_small_image_is_charged_for_its_own_band_only():
    assert budget.decode_peak_bytes("RGB", 10, 10) == 400 + 300 + 100 * budget.BAND_BYTES_PER_PIXEL


def test_sampling_shrinks_only_the_copy():
    assert budget.output_bytes(401, 200, step=8) == 51 * 25 * 3
    assert (
        budget.decode_peak_bytes("RGB", 401, 200, step=8) == 401 * 200 * (4 + budget.BAND_BYTES_PER_PIXEL) + 51 * 25 * 3
    )


def test_the_79_megapixel_rgba_png_is_over_the_default_budget_and_says_why():
    limit = Settings().max_decode_bytes
    reason = budget.over_budget("RGBA", 8900, 8900, limit)
    assert reason == "image too large to decode: 8900x8900 pixels in mode RGBA need about 535 MiB (limit 360 MiB)"


def test_every_image_under_the_pixel_cap_in_a_one_byte_mode_fits_the_default_budget():
    settings = Settings()
    assert budget.over_budget("L", 10_000, settings.max_image_pixels // 10_000, settings.max_decode_bytes) is None


def test_the_largest_accepted_image_stays_within_the_budget():
    limit = Settings().max_decode_bytes
    assert budget.over_budget("RGBA", 7282, 7282, limit) is None
    assert budget.over_budget("RGBA", 7283, 7283, limit) is not None


def test_a_50_megapixel_phone_photo_fits_the_default_budget():
    assert budget.over_budget("RGB", 8160, 6120, Settings().max_decode_bytes) is None


@pytest.mark.parametrize(
    ("width", "step"), [(1, 1), (100, 1), (10_000, 1), (1_000_000, 1), (10_000, 8), (9_000_000, 8)]
)
def test_bands_are_whole_samples_and_bounded(width, step):
    rows = budget.band_rows(width, step)
    assert rows >= 1 and rows % step == 0
    assert rows * width <= max(budget.BAND_PIXELS, width * step)
