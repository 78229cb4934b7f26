"""Spec loading: tables of valid and invalid specs with the expected message (as in dlt's
rest_api tests), the corpus of broken files, and arbitrary YAML (hypothesis)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import SpecError
from engine.plugins import get_plugin_manager
from engine.spec import Join, Lookup, function_set, load_spec_file, load_spec_text, load_specs

HERE = Path(__file__).parent
BROKEN = sorted((HERE / "broken_specs").glob("*.yaml"))
BROKEN_SETS = sorted(p for p in (HERE / "broken_sets").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def functions():
    return function_set(get_plugin_manager())


def _expectations(path: Path) -> tuple[str, int | None]:
    text = path.read_text()
    expect = re.search(r"^# expect: (.+)$", text, re.M).group(1)
    line = re.search(r"^# line: (\d+)$", text, re.M)
    return expect, int(line.group(1)) if line else None


def test_corpus_is_large_enough():
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_spec_fails_with_located_message(path, functions):
    expect, line = _expectations(path)
    with pytest.raises(SpecError) as info:
        load_spec_file(path, functions)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expect in message, message
    if line is not None:
        assert info.value.line == line, message
        assert f"{path}:{line}:" in message


@pytest.mark.parametrize("path", BROKEN_SETS, ids=lambda p: p.name)
def test_broken_spec_set(path, functions):
    with pytest.raises(SpecError, match=re.escape((path / "expect.txt").read_text().strip())):
        load_specs(path, "test", functions)


def test_cli_check_reports_every_broken_file_with_exit_1(tmp_path):
    for p in BROKEN[:5]:
        (tmp_path / p.name).write_text(p.read_text())
    result = CliRunner().invoke(app, ["mappings", "check", str(tmp_path), "--json"])
    assert result.exit_code == 1
    for p in BROKEN[:5]:
        assert p.name in result.stdout


def test_cli_check_passes_on_the_repository_mappings():
    result = CliRunner().invoke(app, ["mappings", "check"])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_cli_check_missing_path_is_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["mappings", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2


BAD_EXPRESSION = """model: skills
source: {call: x}
remote_id: id
fields:
  name: "shortname[?"
  remote_created_at: "`null`"
"""


def test_expression_error_shows_caret(functions):
    with pytest.raises(SpecError) as info:
        load_spec_text(BAD_EXPRESSION, "skills.yaml", functions)
    text = str(info.value)
    assert "skills.yaml:5:21: fields.name:" in text  # column: the end of the incomplete expression
    lines = text.splitlines()
    expr_line = next(i for i, l in enumerate(lines) if l.strip() == 'name: "shortname[?"')
    assert lines[expr_line + 1].strip() == "^"
    assert lines[expr_line + 1].index("^") == lines[expr_line].index("shortname[?") + len("shortname[?")


VALID = {
    "minimal": """model: skills
source: {call: list}
remote_id: id
fields: {name: n, remote_created_at: "`null`"}
""",
    "paged-fanout-join-lookup": """model: course_progressions
source:
  call: enrolled
  fan_out: {over: courses, keep: "{id: id}", as: course, concurrency: 2}
  params:
    courseid: "=parent.id"
    literal: "==not an expression"
    options: [{name: limitfrom, value: "=page.offset"}]
  pagination: {type: offset, limit: 50, stop: short_page, max_pages: 10}
enrich:
  - name: uc
    join:
      stream: {call: users_courses, fan_out: {stream: {call: list_users}, as: user}, params: {userid: "=parent.id"}}
      key: key(id, user.id)
      match: key(course.id, id)
  - name: done
    lookup: {call: status, params: {u: "=record.id"}, when: uc.completed, ignore_errors: [nope]}
remote_id: key(course.id, id)
fields:
  user_id: {expr: id, ref: users}
  course_revision_id: {expr: course.id, ref: course_revisions}
  status: "'ENROLLED'"
  enrolled_at: "`null`"
  completed_at: "`null`"
""",
}


@pytest.mark.parametrize("name", VALID)
def test_valid_specs_load(name, functions):
    spec = load_spec_text(VALID[name], f"{name}.yaml", functions)
    assert spec.fields
    if name == "paged-fanout-join-lookup":
        assert [type(e) for e in spec.enrich] == [Join, Lookup]
        assert spec.functions == ["enrolled", "list_users", "status", "users_courses"]
        assert spec.depends_on == {"courses"}
        rendered = spec.source.params.render({"parent": {"id": 7}, "page": {"offset": 50}})
        assert rendered == {"courseid": 7, "literal": "=not an expression", "options": [{"name": "limitfrom", "value": 50}]}
        assert spec.source.pagination.max_pages == 10


def test_defaults_fill_custom_and_integration_fields(functions):
    spec = load_spec_text(VALID["minimal"], "m.yaml", functions)
    assert spec.defaults == {"custom_fields": {}, "integration_fields": []}


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
yaml_values = st.recursive(yaml_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_spec_errors(functions, text):
    try:
        load_spec_text(text, "fuzz.yaml", functions)
    except SpecError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["model", "source", "remote_id", "fields", "enrich", "x"]), yaml_values, max_size=5))
def test_arbitrary_structures_raise_only_spec_errors(functions, data):
    import yaml

    try:
        load_spec_text(yaml.safe_dump(data), "fuzz.yaml", functions)
    except SpecError:
        pass
