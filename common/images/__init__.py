"""Untrusted image bytes in, what people see out: the one decoder shared by the workers and the web app.

It lives in ``common`` (not in a worker) so the web app's /predict and the input worker refuse the same
images for the same reasons, and it imports no face model, so the web app can validate without dlib.
"""

from common.images.decoding import (
    ALLOWED_FORMATS,
    InvalidImage,
    ValidImage,
    check_size,
    display_name,
    load_image,
)

__all__ = ["ALLOWED_FORMATS", "InvalidImage", "ValidImage", "check_size", "display_name", "load_image"]
