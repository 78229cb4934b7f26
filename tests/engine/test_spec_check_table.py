"""`lmsync mappings check`, the check half of the authoring loop, as tables (in the style of
dlt's rest_api config tests): invalid specs with every error they must produce — line, column
and a message fragment, in order — and valid specs that must load. One parametrized test walks
each table; then the connectors' known calls and the command itself."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import SpecError
from engine.plugins import connectors, get_plugin_manager
from engine.spec import function_set, load_spec_text, load_specs

# the remote functions of an imaginary connector (the loader is connector-agnostic)
KNOWN = frozenset({"list_users", "list_enrolments", "list_courses", "users_courses", "course_status",
                   "core_user_get_users"})


def spec(*rows: str) -> str:
    """A spec text from its lines, so that line N of the file is ``rows[N - 1]``."""
    return "\n".join(rows) + "\n"


USER_FIELDS = (
    "fields:",
    "  first_name: firstname",
    "  last_name: lastname",
    "  work_email: email",
    "  status: \"'ACTIVE'\"",
    "  remote_created_at: \"`null`\"",
)
PROGRESSION_FIELDS = (
    "fields:",
    "  user_id: {expr: id, ref: users}",
    "  course_revision_id: {expr: course.id, ref: course_revisions}",
    "  status: \"'ENROLLED'\"",
    "  enrolled_at: \"`null`\"",
    "  completed_at: \"`null`\"",
)


@dataclass(frozen=True)
class Invalid:
    """A broken spec and every error it must give: ``(line, column, message fragment)``."""

    id: str
    text: str
    errors: list[tuple[int, int, str]]


INVALID = [
    Invalid("unknown-top-key-suggested", spec(
        "model: users",
        "source: {call: list_users, records: users}",
        "remote_id: id",
        "feilds:",
        "  first_name: firstname",
        # the missing `fields` is the misspelt key: one error, not two
    ), [(4, 1, "unknown key 'feilds'; did you mean 'fields'?")]),
    Invalid("unknown-source-key", spec(
        "model: users",
        "source:",
        "  call: list_users",
        "  paginate: true",
        "remote_id: id",
        *USER_FIELDS,
    ), [(4, 3, "source.paginate: unknown key 'paginate'; did you mean 'pagination'?")]),
    Invalid("wrong-type", spec(
        "model: users",
        "source:",
        "  call: list_users",
        "  pagination: {type: offset, limit: ten, stop: short_page}",
        "remote_id: id",
        *USER_FIELDS,
    ), [(4, 37, "'ten' is not of type 'integer'")]),
    Invalid("field-not-a-string-reported-once", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        "fields:",
        "  first_name: 5",
        "  last_name: lastname",
        "  work_email: email",
        "  status: \"'ACTIVE'\"",
        "  remote_created_at: \"`null`\"",
    ), [(5, 15, "fields.first_name: invalid value 5")]),
    Invalid("unknown-call-suggested", spec(
        "model: users",
        "source:",
        "  call: core_user_get_user",
        "remote_id: id",
        *USER_FIELDS,
    ), [(3, 9, "source.call: unknown remote function 'core_user_get_user'; did you mean 'core_user_get_users'?")]),
    Invalid("unknown-call-nothing-close", spec(
        "model: users",
        "source: {call: fetch_everything}",
        "remote_id: id",
        *USER_FIELDS,
        # the newline: the message ends there (no "did you mean"), the caret follows
    ), [(2, 16, "unknown remote function 'fetch_everything'\n")]),
    Invalid("unknown-calls-in-fan-out-join-lookup-requires", spec(
        "model: course_progressions",
        "source:",
        "  call: list_enrolments",
        "  fan_out:",
        "    stream: {call: list_cuorses}",
        "    as: course",
        "enrich:",
        "  - name: uc",
        "    join:",
        "      stream: {call: user_courses}",
        "      key: id",
        "      match: id",
        "  - name: done",
        "    lookup: {call: course_statuss}",
        "requires: [list_user]",
        "remote_id: id",
        *PROGRESSION_FIELDS,
    ), [(5, 20, "source.fan_out.stream.call: unknown remote function 'list_cuorses'; did you mean 'list_courses'?"),
        (10, 22, "enrich[0].join.stream.call: unknown remote function 'user_courses'; did you mean 'users_courses'?"),
        (14, 20, "enrich[1].lookup.call: unknown remote function 'course_statuss'; did you mean 'course_status'?"),
        (15, 12, "requires[0]: unknown remote function 'list_user'; did you mean 'list_users'?")]),
    Invalid("two-bad-expressions-both-reported", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        "fields:",
        "  first_name: \"firstname ||\"",
        "  last_name: lastname]",
        "  work_email: email",
        "  status: \"'ACTIVE'\"",
        "  remote_created_at: \"`null`\"",
    ), [(5, 28, "fields.first_name: invalid JMESPath expression: incomplete expression"),
        (6, 22, "fields.last_name: invalid JMESPath expression: Unexpected token: ]")]),
    Invalid("schema-error-and-expression-error", spec(
        "model: users",
        "source:",
        "  call: list_users",
        "  record: users",
        "remote_id: \"id[\"",
        *USER_FIELDS,
    ), [(4, 3, "unknown key 'record'; did you mean 'records'?"),
        (5, 16, "remote_id: invalid JMESPath expression: incomplete expression")]),
    Invalid("missing-key-and-bad-field", spec(
        "model: users",
        "source: {call: list_users}",
        "fields:",
        "  first_name: firstname",
        "  last_name: lastname",
        "  work_email: \"email[?\"",
        "  status: \"'ACTIVE'\"",
        "  remote_created_at: \"`null`\"",
    ), [(1, 1, "'remote_id' is a required property"),
        (6, 23, "fields.work_email: invalid JMESPath expression: incomplete expression")]),
    Invalid("lexer-error-column", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        "fields:",
        "  first_name: \"first#name\"",
        "  last_name: lastname",
        "  work_email: email",
        "  status: \"'ACTIVE'\"",
        "  remote_created_at: \"`null`\"",
    ), [(5, 21, "invalid JMESPath expression: Unknown token #")]),
    Invalid("param-expression-column-after-equals", spec(
        "model: users",
        "source:",
        "  call: list_users",
        "  params:",
        "    criteria:",
        "      - {key: lastname, value: \"=parent.(id\"}",
        "remote_id: id",
        *USER_FIELDS,
    ), [(6, 41, "source.params.criteria[0].value: invalid JMESPath expression: Expecting:")]),
    Invalid("folded-block-expression-line-of-token", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        "fields:",
        "  first_name: firstname",
        "  last_name: lastname",
        "  work_email: email",
        "  status: >",
        "    suspended && 'INACTIVE'",
        "    || ]",
        "  remote_created_at: \"`null`\"",
    ), [(10, 8, "fields.status: invalid JMESPath expression")]),
    Invalid("literal-block-filter", spec(
        "model: users",
        "source:",
        "  call: list_users",
        "  filter: |",
        "    id != `1`",
        "      && username !! 'guest'",
        "remote_id: id",
        *USER_FIELDS,
    ), [(6, 19, "source.filter: invalid JMESPath expression")]),
    Invalid("unknown-function-suggested", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        "fields:",
        "  first_name: firstname",
        "  last_name: lastname",
        "  work_email: coalese(email, username)",
        "  status: \"'ACTIVE'\"",
        "  remote_created_at: \"`null`\"",
    ), [(7, 15, "unknown function coalese() in expression; did you mean coalesce()?")]),
    Invalid("wrong-arity", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: \"length(id, username)\"",
        *USER_FIELDS,
    ), [(3, 13, "remote_id: function length() takes 1 argument(s), got 2")]),
    Invalid("missing-field", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        *USER_FIELDS[:-1],
    ), [(4, 1, "unmapped field(s) of users: remote_created_at")]),
    Invalid("misspelt-field-and-so-a-missing-one", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        "fields:",
        "  first_name: firstname",
        "  last_name: lastname",
        "  work_mail: email",
        "  status: \"'ACTIVE'\"",
        "  remote_created_at: \"`null`\"",
        # the first error is the one a stop-at-the-first check reports; the others in file order
    ), [(7, 3, "users has no field 'work_mail'; did you mean 'work_email'?"),
        (4, 1, "unmapped field(s) of users: work_email")]),
    Invalid("ref-on-plain-field", spec(
        "model: users",
        "source: {call: list_users}",
        "remote_id: id",
        "fields:",
        "  first_name: {expr: firstname, ref: users}",
        *USER_FIELDS[2:],
    ), [(5, 3, "first_name is not an id field; `ref` is not allowed here")]),
    Invalid("id-field-without-ref-and-wrong-ref", spec(
        "model: course_progressions",
        "source: {call: list_enrolments}",
        "remote_id: id",
        "fields:",
        "  user_id: id",
        "  course_revision_id: {expr: course.id, ref: courses}",
        *PROGRESSION_FIELDS[3:],
    ), [(5, 12, "user_id holds an lmsync id: write it as {expr: <remote id>, ref: users}"),
        (6, 3, "course_revision_id holds an lmsync id: write it as {expr: <remote id>, ref: course_revisions}")]),
    Invalid("duplicate-enrichment-name", spec(
        "model: users",
        "source: {call: list_users}",
        "enrich:",
        "  - name: x",
        "    lookup: {call: list_courses}",
        "  - name: x",
        "    lookup: {call: course_status}",
        "remote_id: id",
        *USER_FIELDS,
    ), [(6, 11, "enrich[1].name: enrichment name 'x' is used twice")]),
    Invalid("null-param-and-from-with-params", spec(
        "model: course_revisions",
        "source: {from: courses, params: {id: null}}",
        "remote_id: id",
        "fields:",
        "  course_id: {expr: id, ref: courses}",
        "  title: fullname",
        "  description: \"`null`\"",
        "  remote_url: \"`null`\"",
        "  status: \"'ACTIVE'\"",
        "  remote_created_at: \"`null`\"",
    ), [(2, 16, "source.from: a stream with `from` reuses records"),
        (2, 38, "source.params.id: a parameter value cannot be null")]),
    Invalid("yaml-syntax-stops-there", spec(
        "model: users",
        "source: {call: list_users",
        "remote_id: \"id[\"",
    ), [(3, 10, "YAML syntax: expected ',' or '}', but got ':'")]),
]


VALID = {
    "minimal": spec("model: skills", "source: {call: list_courses}", "remote_id: id",
                    "fields: {name: n, remote_created_at: \"`null`\"}"),
    "every-call-known": spec(
        "model: course_progressions",
        "source:",
        "  call: list_enrolments",
        "  fan_out: {stream: {call: list_courses}, as: course, keep: \"{id: id}\"}",
        "  params: {courseid: \"=parent.id\", note: \"==not an expression\"}",
        "enrich:",
        "  - name: uc",
        "    join: {stream: {call: users_courses}, key: id, match: id}",
        "  - name: done",
        "    lookup: {call: course_status, params: {u: \"=record.id\"}, when: uc}",
        "requires: [core_user_get_users]",
        "remote_id: key(course.id, id)",
        *PROGRESSION_FIELDS,
    ),
    "block-scalar-expressions": spec(
        "model: users",
        "source:",
        "  call: list_users",
        "  filter: |",
        "    id != `1`",
        "      && username != 'guest'",
        "remote_id: id",
        *USER_FIELDS[:-2],
        "  status: >",
        "    suspended && 'INACTIVE'",
        "    || 'ACTIVE'",
        USER_FIELDS[-1],
    ),
}


@pytest.fixture(scope="module")
def functions():
    return function_set(get_plugin_manager())


def _assert_caret(error: SpecError, text: str) -> None:
    """The file's line is shown, with the caret under the error's column."""
    lines = str(error).splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[at - 1] == "    " + text.splitlines()[error.line - 1], str(error)
    assert lines[at].index("^") == 4 + error.column - 1, str(error)


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_invalid_spec_reports_every_error(case, functions):
    with pytest.raises(SpecError) as info:
        load_spec_text(case.text, "s.yaml", functions, known_calls=KNOWN)
    errors = info.value.errors
    assert [(e.line, e.column) for e in errors] == [(line, column) for line, column, _ in case.errors], str(info.value)
    for error, (line, column, fragment) in zip(errors, case.errors):
        assert str(error).startswith(f"s.yaml:{line}:{column}: "), str(error)
        assert fragment in str(error), str(error)
        _assert_caret(error, case.text)
    # the raised error stands for all of them: located at the first, its text lists each
    assert (info.value.line, info.value.column) == (errors[0].line, errors[0].column)
    assert str(info.value) == "\n".join(str(e) for e in errors)


def test_table_is_large_enough():
    assert len(INVALID) >= 15
    assert sum(len(c.errors) > 1 for c in INVALID) >= 5


@pytest.mark.parametrize("name", VALID)
def test_valid_spec_loads_with_known_calls(name, functions):
    loaded = load_spec_text(VALID[name], f"{name}.yaml", functions, known_calls=KNOWN)
    assert set(loaded.functions) <= KNOWN and loaded.functions
    assert loaded.fields


def test_block_scalar_expression_means_what_it_says(functions):
    loaded = load_spec_text(VALID["block-scalar-expressions"], "b.yaml", functions)
    status = next(f for f in loaded.fields if f.name == "status").expr
    assert status({"suspended": True}) == "INACTIVE" and status({"suspended": False}) == "ACTIVE"
    assert loaded.source.filter({"id": 1, "username": "x"}) is False
    assert loaded.source.filter({"id": 2, "username": "x"}) is True


def test_without_known_calls_any_call_is_accepted(functions):
    text = spec("model: users", "source: {call: anything_at_all}", "remote_id: id", *USER_FIELDS)
    assert load_spec_text(text, "s.yaml", functions).functions == ["anything_at_all"]
    with pytest.raises(SpecError, match="unknown remote function 'anything_at_all'"):
        load_spec_text(text, "s.yaml", functions, known_calls=KNOWN)


def _listing() -> dict:
    return {name: info for name, info in connectors(get_plugin_manager()).items() if info.known_calls is not None}


def test_packaged_specs_call_only_known_functions(functions):
    listing = _listing()
    assert listing, "no installed connector lists its known calls"
    for name, info in listing.items():
        specs = load_specs(info.mappings, name, functions, known_calls=info.known_calls)
        called = {f for s in specs.specs.values() for f in s.functions}
        assert called and called <= info.known_calls


def _broken_copy(directory: Path, info) -> tuple[str, str]:
    """Copy the connector's first spec calling a function into *directory*, its source call
    misspelt and its remote_id broken; ``(the real call, the misspelling)``."""
    for entry in sorted(info.mappings.iterdir(), key=lambda e: e.name):
        text = entry.read_text() if entry.name.endswith(".yaml") else ""
        call = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("  call: ")), None)
        if call:
            wrong = call[:-1]
            lines = [f"  call: {wrong}" if line.startswith("  call: ") else
                     ("remote_id: \"id[\"" if line.startswith("remote_id:") else line) for line in text.splitlines()]
            (directory / entry.name).write_text("\n".join(lines) + "\n")
            return call, wrong
    raise AssertionError("no packaged spec with a source call")


def test_cli_check_lists_every_error_with_suggestion_and_caret(tmp_path):
    name, info = next(iter(_listing().items()))
    directory = tmp_path / name  # mappings/<connector>/: the connector is found from the path
    directory.mkdir()
    call, wrong = _broken_copy(directory, info)
    result = CliRunner().invoke(app, ["mappings", "check", str(directory)])
    assert result.exit_code == 1, result.output
    assert f"unknown remote function {wrong!r}; did you mean {call!r}?" in result.output
    assert "remote_id: invalid JMESPath expression: incomplete expression" in result.output
    assert "0 spec file(s) valid, 2 error(s)" in result.output
    assert result.output.count("^") == 2

    other = tmp_path / "drafts"
    shutil.copytree(directory, other)
    as_json = CliRunner().invoke(app, ["mappings", "check", str(other), "--json"])
    assert len(json.loads(as_json.stdout)["errors"]) == 1  # a directory of no connector: calls unchecked
    forced = CliRunner().invoke(app, ["mappings", "check", str(other), "--connector", name, "--json"])
    assert forced.exit_code == 1
    errors = json.loads(forced.stdout)["errors"]
    assert len(errors) == 2 and any(f"did you mean {call!r}?" in e for e in errors)


def test_cli_check_unknown_connector_is_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["mappings", "check", str(tmp_path), "--connector", "no-such-lms"])
    assert result.exit_code == 2
    assert "no-such-lms" in result.output
