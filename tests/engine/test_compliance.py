"""Walks every compliance data file (given → expression → result or error), as in jmespath.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jmespath.exceptions import JMESPathError

from engine.errors import ExpressionError
from engine.plugins import get_plugin_manager
from engine.spec import compile_expr, function_set

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(ROOT.glob("*/compliance/*.yaml"))


def _cases():
    for file in FILES:
        for g, group in enumerate(yaml.safe_load(file.read_text(encoding="utf-8"))):
            for c, case in enumerate(group["cases"]):
                yield pytest.param(group["given"], case, id=f"{file.parent.parent.name}/{file.stem}[{g}.{c}] {case['expression']}")


@pytest.fixture(scope="module")
def functions():
    return function_set(get_plugin_manager())


def test_compliance_files_exist():
    assert len(FILES) >= 2


@pytest.mark.parametrize(("given", "case"), list(_cases()))
def test_compliance(given, case, functions):
    try:
        expr = compile_expr(case["expression"], functions, file="compliance", line=1, field="case")
        result = expr(given)
    except (ExpressionError, JMESPathError, ValueError) as exc:  # ValueError: a plugin function refusing a value (a record error in the mapper)
        assert "error" in case, f"unexpected error: {exc}"
        assert case["error"] in str(exc)
        return
    assert "error" not in case, f"expected an error containing {case['error']!r}, got {result!r}"
    assert result == case["result"]
