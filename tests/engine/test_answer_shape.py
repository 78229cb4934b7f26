"""Answer shapes (`expect`) and ignored look-up errors (absence is not deletion)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.errors import BadResponse, RemoteError
from engine.mapper import iter_mapped
from engine.plugins import get_plugin_manager
from engine.runner import RunContext
from engine.spec import SpecSet, function_set, load_spec_text
from engine.spec._jmes import root_fields
from engine.store.base import StoredRecord

USERS = """model: users
source:
  call: list_users
  records: {records}
  {expect}
remote_id: id
fields:
  first_name: firstname
  last_name: lastname
  work_email: email
  status: "suspended && 'INACTIVE' || 'ACTIVE'"
  remote_created_at: "`null`"
"""

PROGRESS = """model: course_progressions
source:
  call: enrolments
enrich:
  - name: completion
    lookup:
      call: completion
      params: {{u: "=record.id"}}
      result: status
      ignore_errors: [nocriteriaset]
      {expect}
remote_id: id
fields:
  user_id: {{expr: id, ref: users}}
  course_revision_id: {{expr: course, ref: course_revisions}}
  status: "dropped && 'DROPPED' || completion.done && 'COMPLETED' || 'ENROLLED'"
  enrolled_at: "`null`"
  completed_at: "completion.done && completion.at || `null`"
"""


@pytest.fixture(scope="module")
def functions():
    return function_set(get_plugin_manager())


def _users(functions, answer, records="users", expect=""):
    spec = load_spec_text(USERS.format(records=records, expect=expect), "u.yaml", functions)
    ctx = RunContext(specset=SpecSet("fake", {"users": spec}), call=lambda n, p: answer)
    return [r.remote_id for r in iter_mapped(ctx, spec, "fake:1")]


USER = {"id": 7, "firstname": "a", "lastname": "b", "email": "a@b.c", "suspended": False}


@pytest.mark.parametrize(("answer", "message"), [
    ({}, "list_users: answer has no list at `users` (got an empty object)"),
    (None, "list_users: answer has no list at `users` (got null)"),
    ([], "list_users: answer has no list at `users` (got a list of 0 items)"),
    ({"warnings": []}, "list_users: answer has no list at `users` (got an object with keys: warnings)"),
    ({"users": None, "warnings": []}, "list_users: answer has no list at `users` (`users` is null)"),
    ({"users": "x"}, "list_users: answer has no list at `users` (`users` is a string ('x'))"),
    ({"users": [1]}, "list_users: a record at `users` is a number (1), expected an object"),
])
def test_a_records_path_that_is_not_a_list_is_a_bad_response(functions, answer, message):
    with pytest.raises(BadResponse) as info:
        _users(functions, answer)
    assert str(info.value) == message


@pytest.mark.parametrize("answer", [None, {}, {"users": []}])
def test_the_whole_answer_as_records_must_be_a_list(functions, answer):
    with pytest.raises(BadResponse, match="the answer is not a list"):
        _users(functions, answer, records="'@'")


def test_a_good_answer_and_an_empty_list_are_fine(functions):
    assert _users(functions, {"users": [USER], "warnings": []}) == ["7"]
    assert _users(functions, {"users": [], "warnings": []}) == []
    assert _users(functions, [USER], records="'@'") == ["7"]


def test_optional_records_accept_a_missing_key_but_not_a_wrong_type(functions):
    assert _users(functions, {}, expect="expect: {records: optional}") == []
    with pytest.raises(BadResponse, match="`users` is an empty object"):
        _users(functions, {"users": {}}, expect="expect: {records: optional}")


def test_expected_keys_must_be_present(functions):
    expect = "expect: {keys: [users, warnings]}"
    assert _users(functions, {"users": [USER], "warnings": []}, expect=expect) == ["7"]
    with pytest.raises(BadResponse, match=r"answer lacks key\(s\) warnings \(got an object with keys: users\)"):
        _users(functions, {"users": [USER]}, expect=expect)


def test_root_fields_name_the_top_level_keys_an_expression_reads():
    assert root_fields("completion.completions[?timecompleted != `null`].timecompleted") == {"completion"}
    assert root_fields("a && f(b.c) || {x: d} || e[0] || g[*].completion") == {"a", "b", "d", "e", "g"}
    assert root_fields("items | completion") == {"items"}
    assert root_fields("sort_by(items, &completion)") == {"items"}


def test_a_look_up_knows_the_fields_it_feeds(functions):
    spec = load_spec_text(PROGRESS.format(expect=""), "p.yaml", functions)
    assert spec.enrich[0].feeds == {"status", "completed_at"}


class _Api:
    def __init__(self, completion):
        self.completion = completion

    def __call__(self, name, params):
        if name == "enrolments":
            return [{"id": 1, "course": 9, "dropped": False}, {"id": 2, "course": 9, "dropped": True}]
        if isinstance(self.completion, Exception):
            raise self.completion
        return self.completion


def _progress(functions, api, stored=None, expect=""):
    spec = load_spec_text(PROGRESS.format(expect=expect), "p.yaml", functions)
    ctx = RunContext(specset=SpecSet("fake", {"course_progressions": spec}), call=api)
    return {r.remote_id: r for r in iter_mapped(ctx, spec, "fake:1", stored=stored)}


def _stored(records):
    rows = {r.id: StoredRecord(r.id, r.remote_id, r.fields, r.remote_data, datetime.now(UTC), None) for r in records.values()}
    return lambda ids: {i: rows[i] for i in ids if i in rows}


def test_a_look_up_answer_without_its_result_is_a_bad_response(functions):
    with pytest.raises(BadResponse, match=r"completion: answer has no value at `status` \(got an empty object\)"):
        _progress(functions, _Api({}))
    assert _progress(functions, _Api({}), expect="expect: {result: optional}")["1"].fields["status"] == "ENROLLED"


def test_an_ignored_look_up_error_keeps_the_stored_answer_and_fresh_data_still_decides(functions):
    first = _progress(functions, _Api({"status": {"done": True, "at": "2026-01-02T00:00:00Z"}}))
    assert first["1"].fields["status"] == "COMPLETED" and first["2"].fields["status"] == "DROPPED"
    again = _progress(functions, _Api(RemoteError("no criteria", code="nocriteriaset")), _stored(first))
    assert again["1"].fields == first["1"].fields
    assert again["1"].content_hash == first["1"].content_hash and again["1"].raw_hash == first["1"].raw_hash
    assert again["2"].fields["status"] == "DROPPED"


def test_without_a_stored_answer_the_fields_it_feeds_keep_their_stored_values(functions):
    first = _progress(functions, _Api({"status": {"done": True, "at": "2026-01-02T00:00:00Z"}}))
    for rec in first.values():
        rec.remote_data.pop("completion", None)
    again = _progress(functions, _Api(RemoteError("no criteria", code="nocriteriaset")), _stored(first))
    assert again["1"].fields["status"] == "COMPLETED"
    assert again["1"].fields["completed_at"] == "2026-01-02T00:00:00Z"


def test_an_ignored_error_with_nothing_stored_maps_what_came(functions):
    got = _progress(functions, _Api(RemoteError("no criteria", code="nocriteriaset")), _stored({}))
    assert got["1"].fields["status"] == "ENROLLED" and got["1"].fields["completed_at"] is None
    assert "_incomplete" not in str(got["1"].remote_data)
