"""The image page shows a photo extraction found sideways turned upright, under its face boxes (issue 31);
the API's image body keeps its documented fields."""

from __future__ import annotations

import numpy as np

from common.infra.messages import ExtractImage
from common.infra.settings import get_settings
from input_worker.extract import extract_image
from tests.integration.input_worker.test_reextract import Sent, stored_image
from tests.unit.input_worker.sample_images import encode, grace_hopper


def test_the_image_page_turns_a_sideways_photo_to_match_its_boxes(login, web_db):
    upright = grace_hopper()
    height, width = upright.shape[:2]
    image_id = stored_image(web_db, encode(np.rot90(upright, 1)), "sideways.jpg")  # turned counter-clockwise
    assert extract_image(web_db, ExtractImage(image_id=image_id), get_settings(), send=Sent()) == 1
    browser = login("viewer")
    html = browser.get(f"/images/{image_id}").get_data(as_text=True)
    assert f'viewBox="0 0 {width} {height}"' in html  # the image as displayed
    assert f'width="{height}" height="{width}" transform="translate({width} 0) rotate(90)"' in html  # the original
    assert "turned 90° clockwise" in html
    body = browser.get(f"/api/v1/images/{image_id}").get_json()
    assert (body["width"], body["height"], body["face_count"], body["rotation"]) == (width, height, 1, 90)
