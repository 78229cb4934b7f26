"""`Ctx`: one authenticated API request as the handlers see it (params, caller, pager)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._model import Account, Course, Token, User
from ._paginate import Pager
from ._site import CanvasSite
from ._wire import NotFound, Unauthorized, as_list

__all__ = ["Ctx", "Answer"]


@dataclass
class Answer:
    """A handler's result: status, JSON value (None = empty body), extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """The request: `query` holds query-string parameters only (they go into Link headers),
    `params` the query merged with the body (like Rails' params)."""

    site: CanvasSite
    token: Token
    user: User
    host: str
    path: str
    method: str
    query: dict
    params: dict
    items: int = 0
    pager: Pager | None = None

    # ------------------------------------------------------------------ params
    def list_param(self, name: str) -> list[str]:
        """`name[]=a&name[]=b` or `name=a` as a list of strings (Ruby Array(params[name]))."""
        return [str(v) for v in as_list(self.params.get(name)) if isinstance(v, (str, int))]

    def includes(self) -> set[str]:
        """The include[] values."""
        return set(self.list_param("include"))

    def str_param(self, name: str) -> str | None:
        """A scalar parameter (None when absent or not a scalar)."""
        value = self.params.get(name)
        return value if isinstance(value, str) else None

    # ------------------------------------------------------------------ permissions
    @property
    def can_read_sis(self) -> bool:
        """read_sis or manage_sis on the root account."""
        return self.token.can("read_sis") or self.token.can("manage_sis")

    @property
    def can_view_logins(self) -> bool:
        """view_user_logins (or SIS rights) on the root account."""
        return self.token.can("view_user_logins") or self.can_read_sis

    def require(self, *permissions: str) -> None:
        """Unauthorized unless the token holds one of `permissions`."""
        if not any(self.token.can(p) for p in permissions):
            raise Unauthorized()

    def enrolled(self, course: Course, *, types: tuple[str, ...] | None = None) -> bool:
        """True when the caller has a live enrollment in `course` (optionally of `types`)."""
        return any(e.course_id == course.id and e.workflow_state in ("active", "invited", "completed")
                   and (types is None or e.type in types)
                   for e in self.site.enrollments_of_user(self.user.id))

    # ------------------------------------------------------------------ lookups
    def account(self, ref: str) -> Account:
        """The account `ref`, or NotFound."""
        account = self.site.find_account(ref)
        if account is None:
            raise NotFound()
        return account

    def course(self, ref: str, *, deleted: bool = False) -> Course:
        """The course `ref` (deleted ones are not found unless `deleted`), or NotFound."""
        course = self.site.find_course(ref)
        if course is None or (course.workflow_state == "deleted" and not deleted):
            raise NotFound()
        return course

    def user_ref(self, ref: str) -> User:
        """The user `ref` ('self', id, sis_user_id:…), or NotFound."""
        user = self.site.find_user(ref, self.user.id)
        if user is None:
            raise NotFound()
        return user

    def can_read_course(self, course: Course) -> bool:
        """Account admins with read_course_content/read_course_list, or anyone enrolled."""
        return (self.token.can("read_course_content") or self.token.can("read_course_list")
                or self.enrolled(course))

    def paginator(self) -> Pager:
        """The request's Pager (created once)."""
        if self.pager is None:
            self.pager = Pager(self.host + self.path, self.query)
        return self.pager

    def ordinal(self, items: list, *, with_last: bool = True) -> list:
        """Page by number (see Pager.ordinal) and count the returned records."""
        page = self.paginator().ordinal(items, with_last=with_last)
        self.items += len(page)
        return page

    def bookmarked(self, items: list, key) -> list:
        """Page by bookmark (see Pager.bookmark) and count the returned records."""
        page = self.paginator().bookmark(items, key)
        self.items += len(page)
        return page
