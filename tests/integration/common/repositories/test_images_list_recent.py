"""The newest images across day partitions (common/repositories/images.py: list_recent), as the image list
and GET /api/v1/images page through them."""

from datetime import UTC, datetime, timedelta

from common.repositories import images


def _stored(db, when: datetime, image_id: str) -> None:
    db.execute("INSERT INTO images_by_day (day, created_at, image_id, source_name) VALUES (?, ?, ?, ?)",
               (when.date(), when, image_id, f"{image_id}.jpg"))  # fmt: skip


def test_newest_first_across_sparse_days_with_a_limit_and_pages(clean_tables):
    db = clean_tables
    now = datetime.now(UTC).replace(microsecond=0)
    # today (two), 3 days ago, 40 days ago (past the first windows of days), 300 days ago
    ages = {"today-b": timedelta(minutes=1), "today-a": timedelta(minutes=2), "three-days": timedelta(days=3),
            "forty-days": timedelta(days=40), "last-winter": timedelta(days=300)}  # fmt: skip
    for image_id, age in ages.items():
        _stored(db, now - age, image_id)
    newest = [image_id for _, image_id, _ in images.list_recent(db, limit=50)]
    assert newest == ["today-b", "today-a", "three-days", "forty-days", "last-winter"]
    assert [e[1] for e in images.list_recent(db, limit=3)] == ["today-b", "today-a", "three-days"]
    page_two = images.list_recent(db, limit=2, before=now - ages["today-a"])
    assert [e[1] for e in page_two] == ["three-days", "forty-days"]
    assert images.list_recent(db, limit=50, days=30)[-1][1] == "three-days"  # no further back than asked
    assert images.list_recent(db, limit=1)[0][2] == "today-b.jpg"
