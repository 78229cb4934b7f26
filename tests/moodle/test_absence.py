"""Absence is not deletion: a wrong answer shape fails the run, an ignored look-up error keeps
what is stored."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest

from simenv import moodle_env


class _Rewriting(httpx.HTTPTransport):
    """Loopback HTTP, but every answer to *function* is replaced by *body*."""

    def __init__(self, function: str, body: bytes) -> None:
        super().__init__()
        self.function, self.body, self.hits = function, body, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fields = parse_qs(request.content.decode())
        if fields.get("wsfunction") == [self.function]:
            self.hits += 1
            return httpx.Response(200, headers={"Content-Type": "application/json"}, content=self.body)
        return super().handle_request(request)


@pytest.mark.parametrize(("body", "got"), [
    (b"{}", "got an empty object"),
    (b"null", "got null"),
    (b"[]", "got a list of 0 items"),
    (b'{"warnings": []}', "got an object with keys: warnings"),
    (b'{"users": {}, "warnings": []}', "`users` is an empty object"),
])
def test_a_users_answer_of_the_wrong_shape_fails_the_run_and_deletes_nothing(tmp_path, body, got):
    with moodle_env(tmp_path) as env:
        assert env.sync().status == "succeeded"
        before = {r.id for r in env.rows("users")}
        rewriting = _Rewriting("core_user_get_users", body)
        env.engine.client_factory = lambda: httpx.Client(transport=rewriting)
        run = env.sync()
        assert run.status == "failed"
        assert run.error.startswith("BadResponse: core_user_get_users: answer has no list at `users`")
        assert got in run.error
        assert rewriting.hits == env.engine.policy.attempts  # retried like a garbled body, then failed
        assert {r.id for r in env.rows("users")} == before
        assert not [r for r in env.rows("users", include_deleted=True) if r.remote_deleted_at]


def test_a_list_answer_of_null_fails_instead_of_reading_no_competencies(tmp_path):
    with moodle_env(tmp_path) as env:
        env.sync()
        before = len(env.rows("revision_skills"))
        assert before
        env.engine.client_factory = lambda: httpx.Client(transport=_Rewriting("core_competency_list_course_competencies", b"null"))
        run = env.sync()
        assert run.status == "failed" and "the answer is not a list (got null)" in run.error
        assert len(env.rows("revision_skills")) == before


def _completed(env) -> dict[str, tuple[str, str]]:
    return {k: (r.fields["status"], r.fields["completed_at"]) for k, r in env.by_remote("course_progressions").items()
            if r.fields["status"] == "COMPLETED"}


def test_a_completion_look_up_answering_nocriteriaset_keeps_the_stored_completion(tiny):
    tiny.site.run_cron()
    tiny.sync()
    before = _completed(tiny)
    assert before and all(at for _, at in before.values())
    tiny.control.fail_function("core_completion_get_course_completion_status", "nocriteriaset")
    run = tiny.sync()
    assert run.status == "succeeded"
    assert _completed(tiny) == before
    assert run.stats["course_progressions"]["updated"] == 0


def test_a_hidden_course_completion_stays_completed_when_the_look_up_fails(tiny):
    tiny.site.run_cron()
    tiny.site.hide_course(2)
    tiny.sync()
    hidden = {k: v for k, v in _completed(tiny).items() if k.startswith("2:")}
    assert hidden  # only the look-up knows these (core_enrol_get_users_courses leaves hidden courses out)
    tiny.control.fail_function("core_completion_get_course_completion_status", "nocriteriaset")
    tiny.sync()
    assert {k: v for k, v in _completed(tiny).items() if k.startswith("2:")} == hidden


def test_fresh_data_still_decides_when_the_look_up_fails(tiny):
    tiny.site.run_cron()
    tiny.sync()
    key = sorted(_completed(tiny))[0]
    course, user = map(int, key.split(":"))
    tiny.control.fail_function("core_completion_get_course_completion_status", "nocriteriaset")
    tiny.site.set_enrolment_status(course, user, True)
    tiny.sync()
    assert tiny.by_remote("course_progressions")[key].fields["status"] == "DROPPED"


def test_a_record_never_stored_maps_what_came(tiny):
    tiny.site.run_cron()
    tiny.site.hide_course(2)
    tiny.control.fail_function("core_completion_get_course_completion_status", "nocriteriaset")
    run = tiny.sync()
    assert run.status == "succeeded"
    assert not any(k.startswith("2:") for k in _completed(tiny))  # nothing stored to keep: no invention


def test_the_stored_look_up_answer_stays_in_remote_data(tiny):
    tiny.site.run_cron()
    tiny.sync()
    key = sorted(_completed(tiny))[0]
    before = tiny.by_remote("course_progressions")[key].remote_data
    tiny.control.fail_function("core_completion_get_course_completion_status", "nocriteriaset")
    tiny.sync()
    after = tiny.by_remote("course_progressions")[key].remote_data
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
