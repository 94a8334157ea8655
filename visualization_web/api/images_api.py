"""Images: the newest images with their source names; one image with its faces."""

from __future__ import annotations

from common.db import get_database
from common.repositories import images
from visualization_web import queries
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.schemas.images import ImageDetail, ImageList, ImagesQuery, ImageSummary
from visualization_web.errors import ApiError


@bp.get("/images")
@operation(ImageList, operation_id="list_images", tag="images", query=ImagesQuery)
def images_index(query: ImagesQuery):
    """The newest images with their source names."""
    rows = images.list_recent(get_database(), limit=query.limit, before=query.before)
    return ImageList(images=[ImageSummary(image_id=image_id, source_name=name, created_at=at.isoformat())
                             for at, image_id, name in rows])  # fmt: skip


@bp.get("/images/<image_id>")
@operation(ImageDetail, operation_id="get_image", tag="images", errors=(404,))
def images_show(image_id: str):
    """An image with its faces (boxes, labels, predictions)."""
    detail = queries.image_detail(get_database(), image_id[:128], with_rotation=True)
    if detail is None:
        raise ApiError(404, f"no image {image_id[:128]}")
    return ImageDetail.model_validate(detail)
