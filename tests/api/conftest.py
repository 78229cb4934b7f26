"""Fixtures: a seeded store, a real uvicorn server on loopback, API keys, response validators."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from jsonschema import Draft202012Validator

from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.api._contract import body_validator, contract
from engine.ids import record_id
from engine.store import open_store
from engine.store.base import Integration, MappedRecord, Store


A, B, C = "moodle:AAAAAAAAAAAAAAAAAAAAAAAA", "moodle:BBBBBBBBBBBBBBBBBBBBBBBB", "moodle:CCCCCCCCCCCCCCCCCCCCCCCC"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T1 = datetime(2024, 6, 1, tzinfo=timezone.utc)


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def mrec(iid: str, model: str, remote_id: str, fields: dict) -> MappedRecord:
    """A MappedRecord with a deterministic id and hashes."""
    raw = {"/fn": {"id": remote_id}}
    return MappedRecord(record_id(iid, model, remote_id), remote_id, fields, raw, _hash(fields), _hash(raw))


def write(store: Store, iid: str, model: str, records: list[MappedRecord], now: datetime) -> None:
    with store.writer(iid, model) as w:
        w.write(records, now)


def make_store(tmp_path_factory) -> Store:
    """A fresh real SQLite store in a temporary directory."""
    path = tmp_path_factory.mktemp("store") / "api.db"
    store = open_store(f"sqlite://{path}")
    store.migrate()
    return store


def _user(iid: str, n: int) -> MappedRecord:
    return mrec(iid, "users", f"u{n}", {
        "first_name": f"First{n}", "last_name": f"Last{n}", "work_email": f"user{n}@example.com",
        "status": "ACTIVE" if n % 3 else "INACTIVE", "remote_created_at": "2023-05-06T07:08:09.123Z",
        "custom_fields": {"n": n} if n % 2 else None, "integration_fields": [],
    })


@dataclass
class Seed:
    """What was written for integration A (remote ids), for assertions."""

    users: list[str] = field(default_factory=list)
    deleted_users: list[str] = field(default_factory=list)
    courses: list[str] = field(default_factory=list)
    touched_course: str = ""  # its revision changed at T1
    progressions: list[str] = field(default_factory=list)


def seed(store: Store, iid: str, n_users: int = 30) -> Seed:
    s = Seed()
    users = [_user(iid, n) for n in range(n_users)]
    write(store, iid, "users", users, T0)
    s.users = [u.remote_id for u in users]
    s.deleted_users = s.users[-3:]
    store.mark_deleted(iid, "users", {u.id for u in users[:-3]}, T0 + timedelta(days=1))
    skills = [mrec(iid, "skills", f"s{n}", {"name": f"Skill {n}", "remote_created_at": None,
                                             "custom_fields": None, "integration_fields": []}) for n in range(5)]
    write(store, iid, "skills", skills, T0)
    courses = [mrec(iid, "courses", f"c{n}", {"provider_id": None, "origin_id": f"o{n}" if n % 2 else None,
                                               "remote_created_at": "2022-01-01T00:00:00Z",
                                               "custom_fields": None, "integration_fields": []}) for n in range(12)]
    write(store, iid, "courses", courses, T0)
    s.courses = [c.remote_id for c in courses]
    revs = []
    for n, c in enumerate(courses):
        for k in range(1 + n % 2):
            revs.append(mrec(iid, "course_revisions", f"r{n}.{k}", {
                "course_id": c.id, "title": f"Course {n} v{k}", "description": None, "remote_url": None,
                "status": "ACTIVE", "remote_created_at": None, "custom_fields": None, "integration_fields": [],
            }))
    write(store, iid, "course_revisions", revs, T0)
    joins = [mrec(iid, "revision_skills", f"{r.remote_id}|s{i % 5}", {
        "course_revision_id": r.id, "skill_id": skills[i % 5].id}) for i, r in enumerate(revs)]
    write(store, iid, "revision_skills", joins, T0)
    # one revision changes later: its course must match updated_after through the nested rule
    touched = revs[3]
    touched = mrec(iid, "course_revisions", touched.remote_id, {**touched.fields, "title": "Renamed"})
    write(store, iid, "course_revisions", [touched], T1)
    s.touched_course = next(c.remote_id for c in courses if c.id == touched.fields["course_id"])
    progs = [mrec(iid, "course_progressions", f"p{n}", {
        "user_id": users[n % n_users].id, "course_revision_id": revs[n % len(revs)].id,
        "status": "ENROLLED", "enrolled_at": "2024-02-03T04:05:06.789Z", "completed_at": None,
    }) for n in range(40)]
    write(store, iid, "course_progressions", progs, T0)
    s.progressions = [p.remote_id for p in progs]
    return s


class StubServices:
    """Records force_sync calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def force_sync(self, iid: str, kind: str) -> tuple[str, bool]:
        self.calls.append((iid, kind))
        return f"sync{len(self.calls)}", len(self.calls) > 1


@dataclass
class Env:
    store: Store
    url: str
    key_all: str
    key_a: str
    key_b: str
    seed_a: Seed
    services: StubServices

    def client(self, key: str | None = None, iid: str | None = A) -> httpx.Client:
        headers = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if iid is not None:
            headers["X-Integration-Id"] = iid
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    store = make_store(tmp_path_factory)
    for iid in (A, B, C):
        store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"},
                                          created_at=T0, availability={"users": "OK", "enroll": "MISSING"}))
    seed_a = seed(store, A)
    seed(store, B, n_users=4)
    stub = StubServices()
    app = create_app(store, services=ApiServices(force_sync=stub.force_sync))
    keys = (create_api_key(store, "all"), create_api_key(store, "a", [A]), create_api_key(store, "b", [B]))
    with serve_in_thread(app) as url:
        yield Env(store, url, *keys, seed_a, stub)
    store.close()


@pytest.fixture
def client_a(env):
    with env.client(env.key_a) as c:
        yield c


def response_validator(path: str, method: str = "get") -> Draft202012Validator:
    """Validator of the contract's 200 response schema for *path*."""
    op = contract()["paths"][path][method]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return body_validator(ref.rsplit("/", 1)[-1])


def error_validator() -> Draft202012Validator:
    schema = contract()["components"]["responses"]["ErrorResponseGeneral"]["content"]["application/json"]["schema"]
    return Draft202012Validator(schema)


def assert_error(resp: httpx.Response, status: int, code: str | None) -> dict:
    """*resp* is the contract error envelope with *status* and *code*."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    if code is not None:
        error_validator().validate(body)
    assert body["status"] == "error" and body["error"]["code"] == code
    assert body["error"]["log_url"] is None and "Traceback" not in resp.text
    return body
