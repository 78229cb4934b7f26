"""Helpers shared by the write-action tests."""

from __future__ import annotations


def item(origin: str, title: str = "Course", **course) -> dict:
    """One bulk-upsert item."""
    return {"origin_id": origin, "course": {"type": "EXTERNAL", "title": title,
                                             "course_url": f"https://content.example/{origin}", **course}}
