"""`CanvasSite`: the in-memory Canvas database (one root account) and its lookup helpers."""

from __future__ import annotations

import time
import uuid as uuidlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from ._model import (BASE_ROLE_IDS, Account, Course, Enrollment, Login, Outcome, OutcomeGroup, OutcomeLink,
                     Progress, Term, Token, User)

__all__ = ["CanvasSite", "ThrottleConfig", "BASE_TIME"]

BASE_TIME = 1735689600  # 2025-01-01T00:00:00Z


@dataclass
class ThrottleConfig:
    """The leaky bucket of Canvas' RequestThrottle (defaults = app/middleware/request_throttle.rb)
    plus the simulated cost of a request (Canvas charges CPU + DB seconds; here a fixed base
    cost plus a cost per returned record). Set `enabled` False to never throttle; `status` 429
    answers like a site with the send_429_response setting (hosted Canvas answers 403)."""

    hwm: float = 600.0
    maximum: float = 800.0
    outflow: float = 10.0
    up_front_cost: float = 50.0
    enabled: bool = True
    base_cost: float = 0.01
    per_item_cost: float = 0.0005
    status: int = 403


def _uuid(seed: str) -> str:
    return uuidlib.uuid5(uuidlib.NAMESPACE_URL, seed).hex[:40]


class CanvasSite:
    """One Canvas root account: accounts, users, courses, enrollments, outcomes and tokens.

    Ids are allocated per table from 1. `fixed_now` pins the clock (epoch seconds); `host_url`
    is only a default, every answer builds its URLs from the request's Host header.
    """

    def __init__(self, name: str = "Canvas Simulator", *, fixed_now: int | None = None) -> None:
        self.name = name
        self.fixed_now = fixed_now
        self.accounts: dict[int, Account] = {}
        self.users: dict[int, User] = {}
        self.terms: dict[int, Term] = {}
        self.courses: dict[int, Course] = {}
        self.enrollments: dict[int, Enrollment] = {}
        self.groups: dict[int, OutcomeGroup] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.links: dict[int, OutcomeLink] = {}
        self.tokens: dict[str, Token] = {}
        self.progress: dict[tuple[int, int], Progress] = {}
        self.throttle = ThrottleConfig()
        self._next: dict[str, int] = defaultdict(int)
        self.course_enrollments: dict[int, list[int]] = defaultdict(list)
        self.user_enrollments: dict[int, list[int]] = defaultdict(list)
        root = self.add_account(name)
        self.root_account_id = root.id
        self.add_term("Default Term")

    # ------------------------------------------------------------------ clock, ids
    def now(self) -> int:
        """The site's clock (epoch seconds)."""
        return self.fixed_now if self.fixed_now is not None else int(time.time())

    def next_id(self, table: str) -> int:
        """Allocate the next id of `table`."""
        self._next[table] += 1
        return self._next[table]

    # ------------------------------------------------------------------ builders
    def add_account(self, name: str, parent_id: int | None = None, sis_account_id: str | None = None) -> Account:
        """Create an account (the first one is the root account) with its root outcome group."""
        account = Account(self.next_id("account"), name, parent_id, sis_account_id, uuid=_uuid(f"account:{name}"))
        self.accounts[account.id] = account
        self.add_group("Account", account.id, name)
        return account

    def add_term(self, name: str, start_at: int | None = None, end_at: int | None = None,
                 sis_term_id: str | None = None) -> Term:
        """Create an enrollment term."""
        term = Term(self.next_id("term"), name, start_at, end_at, sis_term_id, created_at=BASE_TIME)
        self.terms[term.id] = term
        return term

    def add_user(self, name: str, sortable_name: str, short_name: str | None = None, *, login_id: str,
                 email: str | None = None, sis_user_id: str | None = None, integration_id: str | None = None,
                 created_at: int = BASE_TIME, suspended: bool = False, **extra) -> User:
        """Create a user with one login in the root account (suspended: the login is suspended)."""
        uid = self.next_id("user")
        user = User(uid, name, sortable_name, short_name or name, email, created_at=created_at,
                    uuid=_uuid(f"user:{uid}"), **extra)
        user.logins.append(Login(self.next_id("login"), uid, login_id, sis_user_id, integration_id,
                                 "suspended" if suspended else "active", self.root_account_id, created_at))
        self.users[uid] = user
        return user

    def delete_user(self, user_id: int) -> None:
        """Soft-delete a user: its logins and enrollments are deleted too."""
        user = self.users[user_id]
        user.workflow_state = "deleted"
        for login in user.logins:
            login.workflow_state = "deleted"
        for eid in self.user_enrollments.get(user_id, ()):
            self.enrollments[eid].workflow_state = "deleted"

    def add_course(self, name: str, course_code: str, account_id: int | None = None, *,
                   workflow_state: str = "available", created_at: int = BASE_TIME, **extra) -> Course:
        """Create a course (default section, root outcome group) in `account_id` (root by default)."""
        cid = self.next_id("course")
        course = Course(cid, name, course_code, account_id or self.root_account_id, self.root_account_id,
                        workflow_state, uuid=_uuid(f"course:{cid}"), created_at=created_at,
                        updated_at=extra.pop("updated_at", created_at), section_id=self.next_id("section"),
                        **extra)
        self.courses[cid] = course
        self.add_group("Course", cid, name)
        return course

    def enroll(self, course_id: int, user_id: int, type: str = "StudentEnrollment", state: str = "active",
               created_at: int | None = None, **extra) -> Enrollment:
        """Add an enrollment of `user_id` in `course_id`."""
        when = self.now() if created_at is None else created_at
        course = self.courses[course_id]
        enrollment = Enrollment(self.next_id("enrollment"), user_id, course_id, type, state, BASE_ROLE_IDS[type],
                                course.section_id, when, extra.pop("updated_at", when), **extra)
        self.enrollments[enrollment.id] = enrollment
        self.course_enrollments[course_id].append(enrollment.id)
        self.user_enrollments[user_id].append(enrollment.id)
        return enrollment

    def add_group(self, context_type: str, context_id: int, title: str, parent_id: int | None = None,
                  **extra) -> OutcomeGroup:
        """Create an outcome group (parent None = the context's root group)."""
        group = OutcomeGroup(self.next_id("group"), context_type, context_id, title, parent_id, **extra)
        self.groups[group.id] = group
        return group

    def add_outcome(self, group_id: int, title: str, **extra) -> Outcome:
        """Create an outcome owned by the group's account and link it into the group."""
        group = self.groups[group_id]
        outcome = Outcome(self.next_id("outcome"), group.context_type, group.context_id, title, **extra)
        self.outcomes[outcome.id] = outcome
        self.link_outcome(group_id, outcome.id)
        return outcome

    def link_outcome(self, group_id: int, outcome_id: int) -> OutcomeLink:
        """Link an existing outcome into a group (e.g. an account outcome into a course)."""
        group = self.groups[group_id]
        link = OutcomeLink(self.next_id("link"), group.context_type, group.context_id, group_id, outcome_id)
        self.links[link.id] = link
        return link

    def add_token(self, token: Token) -> Token:
        """Register an access token."""
        self.tokens[token.token] = token
        return token

    def set_progress(self, course_id: int, user_id: int, completed: int, completed_at: int | None = None,
                     next_item_id: int | None = None) -> None:
        """Record a student's module progress (requirements completed so far)."""
        self.progress[(course_id, user_id)] = Progress(completed, completed_at, next_item_id)

    # ------------------------------------------------------------------ lookups
    def root_group(self, context_type: str, context_id: int) -> OutcomeGroup:
        """The root outcome group of a context."""
        for group in self.groups.values():
            if group.context_type == context_type and group.context_id == context_id and group.parent_id is None:
                return group
        raise KeyError((context_type, context_id))

    def find_user(self, ref: str, current_user_id: int | None) -> User | None:
        """A user by id, 'self', sis_user_id:X, sis_login_id:X or sis_integration_id:X."""
        if ref == "self":
            return self.users.get(current_user_id) if current_user_id else None
        column, value = _sis_ref(ref)
        if column is None:
            return self.users.get(value) if isinstance(value, int) else None
        for user in self.users.values():
            for login in user.logins:
                if login.workflow_state == "deleted":
                    continue
                if (column == "sis_user_id" and login.sis_user_id == value
                        or column == "sis_login_id" and login.unique_id == value
                        or column == "sis_integration_id" and login.integration_id == value):
                    return user
        return None

    def find_course(self, ref: str) -> Course | None:
        """A course by id, sis_course_id:X or sis_integration_id:X."""
        column, value = _sis_ref(ref)
        if column is None:
            return self.courses.get(value) if isinstance(value, int) else None
        attr = {"sis_course_id": "sis_course_id", "sis_integration_id": "integration_id"}.get(column)
        if attr is None:
            return None
        return next((c for c in self.courses.values() if getattr(c, attr) == value), None)

    def find_account(self, ref: str) -> Account | None:
        """An account by id, 'self' (the root account) or sis_account_id:X."""
        if ref in ("self", "default"):
            return self.accounts[self.root_account_id]
        column, value = _sis_ref(ref)
        if column is None:
            return self.accounts.get(value) if isinstance(value, int) else None
        if column != "sis_account_id":
            return None
        return next((a for a in self.accounts.values() if a.sis_account_id == value), None)

    def subaccount_ids(self, account_id: int) -> set[int]:
        """`account_id` and every account below it."""
        ids = {account_id}
        changed = True
        while changed:
            changed = False
            for account in self.accounts.values():
                if account.parent_id in ids and account.id not in ids:
                    ids.add(account.id)
                    changed = True
        return ids

    def enrollments_of_course(self, course_id: int) -> Iterable[Enrollment]:
        """Every enrollment row of a course (any state), in id order."""
        return (self.enrollments[eid] for eid in self.course_enrollments.get(course_id, ()))

    def enrollments_of_user(self, user_id: int) -> Iterable[Enrollment]:
        """Every enrollment row of a user (any state), in id order."""
        return (self.enrollments[eid] for eid in self.user_enrollments.get(user_id, ()))

    @classmethod
    def generate(cls, seed: int = 0, users: int = 200, courses: int = 20, enrolments_per_course: int = 10,
                 **options) -> "CanvasSite":
        """A deterministic generated site (see `_generate.generate_site`)."""
        from ._generate import generate_site
        return generate_site(seed=seed, users=users, courses=courses,
                             enrolments_per_course=enrolments_per_course, **options)


def _sis_ref(ref: str) -> tuple[str | None, object]:
    """('sis_course_id', 'X') for 'sis_course_id:X', (None, 12) for '12', (None, None) otherwise."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) <= 18:
        return None, int(ref)
    if ref.startswith("hex:sis_") and ":" in ref[4:]:
        column, _, hexed = ref[4:].partition(":")
        try:
            return column, bytes.fromhex(hexed).decode("utf-8")
        except ValueError:
            return None, None
    if ref.startswith("sis_") and ":" in ref:
        column, _, value = ref.partition(":")
        return column, value
    return None, None
