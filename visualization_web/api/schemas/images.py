"""Images: the newest images, and one image with its faces."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from visualization_web.api.schemas.faces import FaceDetail
from visualization_web.api.schemas.shared import ApiModel, IsoTime, RequestModel, optional


class ImageSummary(ApiModel):
    image_id: str
    source_name: str
    created_at: IsoTime


class ImageList(ApiModel):
    images: list[ImageSummary]


class ImageDetail(ApiModel):
    image_id: str
    source: str = Field(description="where it came from (credentials removed)")
    source_name: str
    width: int
    height: int
    format: str
    size_bytes: int
    status: str
    face_count: int | None = Field(description="null until its faces are extracted")
    error: str | None
    url: str | None = Field(description="the original image (a /blobs/ path)")
    created_at: IsoTime | None
    rotation: int = Field(0, description="degrees clockwise that show the original as the boxes are (0, 90, 180, 270)")
    faces: list[FaceDetail]


class ImagesQuery(RequestModel):
    limit: int = Field(50, ge=1, le=500)
    before: datetime = optional(description="only images stored before this time (paging)")
