"""Preset access tokens (fixed strings shaped like Canvas tokens: '<id>~<64 chars>')."""

from __future__ import annotations

from ._model import Token
from ._site import BASE_TIME, CanvasSite

__all__ = ["ADMIN_TOKEN", "RESTRICTED_TOKEN", "STUDENT_TOKEN", "TEACHER_TOKEN", "EXPIRED_TOKEN",
           "RESTRICTED_PERMISSIONS", "install_tokens"]

ADMIN_TOKEN = "1~" + "a1" * 32
RESTRICTED_TOKEN = "1~" + "b2" * 32
STUDENT_TOKEN = "1~" + "c3" * 32
TEACHER_TOKEN = "1~" + "d4" * 32
EXPIRED_TOKEN = "1~" + "e5" * 32

# A read-only sub-admin: lists users, courses, enrollments and outcomes, but sees no SIS ids,
# no login ids, no email addresses, no grades, and may change nothing.
RESTRICTED_PERMISSIONS = frozenset({"read_roster", "read_course_list", "read_course_content", "read_outcomes"})


def install_tokens(site: CanvasSite, *, admin: int, restricted: int | None = None, student: int | None = None,
                   teacher: int | None = None) -> None:
    """Register the preset tokens (owners by user id; None = that token is not installed)."""
    site.add_token(Token(ADMIN_TOKEN, admin, None, purpose="lmsync admin"))
    site.add_token(Token(EXPIRED_TOKEN, admin, None, expires_at=BASE_TIME, purpose="expired"))
    if restricted is not None:
        site.add_token(Token(RESTRICTED_TOKEN, restricted, RESTRICTED_PERMISSIONS, purpose="read-only sub-admin"))
    if student is not None:
        site.add_token(Token(STUDENT_TOKEN, student, frozenset(), purpose="a student's own token"))
    if teacher is not None:
        site.add_token(Token(TEACHER_TOKEN, teacher, frozenset(), purpose="a teacher's own token"))
