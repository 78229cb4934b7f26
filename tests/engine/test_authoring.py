"""The authoring loop: located spec errors (line, column, caret)."""

from __future__ import annotations

import pytest

from engine.errors import SpecError
from engine.plugins import get_plugin_manager
from engine.spec import function_set, load_spec_text


@pytest.fixture(scope="module")
def functions():
    return function_set(get_plugin_manager())


CARETS = [
    # (spec text, expected "line:col", the caret line under the source line)
    ("model: users\nsource:\n  call: \"list_users\n  params: {}\nremote_id: id\n", "3:9", "            ^"),
    ("model: users\nsource:\n  call: x\n  paginate: true\nremote_id: id\nfields: {}\n", "4:3", "      ^"),
]


@pytest.mark.parametrize("text,where,caret_line", CARETS, ids=["unclosed-quote", "unknown-key"])
def test_spec_errors_have_line_column_and_caret(text, where, caret_line, functions):
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "s.yaml", functions)
    message = str(info.value)
    assert message.startswith(f"s.yaml:{where}: "), message
    assert str(info.value.errors[0]).splitlines()[-1] == caret_line, message


def test_collected_errors_list_every_problem():
    errors = [SpecError("a", file="f", line=1, column=2), SpecError("b", file="f", line=5, column=3)]
    combined = SpecError.collected(errors)
    assert combined.line == 1 and combined.errors == errors
    assert str(combined).splitlines() == ["f:1:2: a", "f:5:3: b"]
