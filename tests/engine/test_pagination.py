"""Pagination always terminates and never yields a record twice, whatever the API does
(hypothesis drives fake APIs that repeat pages, return short or empty pages, or lie about totals)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import BadResponse, PaginationError, RecordError
from engine.mapper import iter_mapped
from engine.plugins import get_plugin_manager
from engine.runner import RunContext
from engine.spec import SpecSet, function_set, load_spec_text

SPEC = """model: skills
source:
  call: list
  params: {{skip: "=page.offset", limit: "=page.limit", page: "=page.number"}}
  records: items
  pagination: {{type: {type}, limit: {limit}, stop: {stop}, total: total, max_pages: 50}}
remote_id: id
fields: {{name: name, remote_created_at: "`null`"}}
"""

BEHAVIOURS = ["honest", "repeat", "short", "empty", "overlap", "ignore_offset", "endless"]


class FakeApi:
    """Serves `size` records, misbehaving per call as the script says."""

    def __init__(self, size: int, script: list[str], lie: int, page_type: str) -> None:
        self.data = [{"id": i, "name": f"n{i}"} for i in range(size)]
        self.script = script
        self.lie = lie
        self.page_type = page_type
        self.calls = 0
        self.last: list = []
        self.fresh = size

    def __call__(self, name: str, params: dict) -> dict:
        behaviour = self.script[self.calls % len(self.script)] if self.script else "honest"
        self.calls += 1
        limit = params["limit"]
        start = params["skip"] if self.page_type == "offset" else params["page"] * limit
        page = self.data[start:start + limit]
        if behaviour == "repeat" and self.last:
            page = self.last
        elif behaviour == "short":
            page = page[: max(0, len(page) // 2)]
        elif behaviour == "empty":
            page = []
        elif behaviour == "overlap" and start > 0:
            page = self.data[start - 1:start - 1 + limit]
        elif behaviour == "ignore_offset":
            page = self.data[:limit]
        elif behaviour == "endless":
            page = [{"id": self.fresh + i, "name": "x"} for i in range(limit)]
            self.fresh += limit
        self.last = page
        return {"items": [dict(r) for r in page], "total": len(self.data) + self.lie}


@pytest.fixture(scope="module")
def functions():
    return function_set(get_plugin_manager())


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(0, 60),
    limit=st.integers(1, 12),
    stop=st.sampled_from(["empty_page", "short_page", "total"]),
    page_type=st.sampled_from(["offset", "page"]),
    script=st.lists(st.sampled_from(BEHAVIOURS), max_size=8),
    lie=st.integers(-20, 20),
)
def test_pagination_terminates_without_duplicates(functions, size, limit, stop, page_type, script, lie):
    spec = load_spec_text(SPEC.format(type=page_type, limit=limit, stop=stop), "p.yaml", functions)
    api = FakeApi(size, script, lie, page_type)
    ctx = RunContext(specset=SpecSet("fake", {"skills": spec}), call=api)
    ids: list[str] = []
    try:
        for rec in iter_mapped(ctx, spec, "fake:1"):
            assert not isinstance(rec, RecordError)
            ids.append(rec.remote_id)
    except (PaginationError, BadResponse):
        pass
    assert len(ids) == len(set(ids))
    assert api.calls <= 50


@pytest.mark.parametrize("page_type", ["offset", "page"])
@pytest.mark.parametrize("stop", ["empty_page", "short_page", "total"])
@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 30])
def test_honest_api_yields_everything_once(functions, page_type, stop, size):
    spec = load_spec_text(SPEC.format(type=page_type, limit=10, stop=stop), "p.yaml", functions)
    api = FakeApi(size, [], 0, page_type)
    ctx = RunContext(specset=SpecSet("fake", {"skills": spec}), call=api)
    ids = [r.remote_id for r in iter_mapped(ctx, spec, "fake:1")]
    assert ids == [str(i) for i in range(size)]
    # the stop rule decides the calls: empty_page always reads one empty page; short_page only when size % 10 == 0
    expected_calls = {"empty_page": -(-size // 10) + 1, "short_page": size // 10 + 1, "total": max(1, -(-size // 10))}[stop]
    assert api.calls == expected_calls


def test_repeated_page_is_an_error_naming_the_spec(functions):
    spec = load_spec_text(SPEC.format(type="offset", limit=5, stop="empty_page"), "loop.yaml", functions)
    api = FakeApi(30, ["honest", "ignore_offset"], 0, "offset")
    ctx = RunContext(specset=SpecSet("fake", {"skills": spec}), call=api)
    with pytest.raises(PaginationError, match=r"loop\.yaml:2 source: page 2 .* repeats an earlier page"):
        list(iter_mapped(ctx, spec, "fake:1"))


def test_runaway_pagination_is_an_error(functions):
    spec = load_spec_text(SPEC.format(type="offset", limit=5, stop="empty_page"), "run.yaml", functions)
    api = FakeApi(0, ["endless"], 0, "offset")
    ctx = RunContext(specset=SpecSet("fake", {"skills": spec}), call=api)
    with pytest.raises(PaginationError, match="max_pages=50"):
        list(iter_mapped(ctx, spec, "fake:1"))
    assert api.calls == 50


def test_total_that_is_not_a_number_is_a_bad_response(functions):
    spec = load_spec_text(SPEC.format(type="offset", limit=5, stop="total"), "t.yaml", functions)
    ctx = RunContext(specset=SpecSet("fake", {"skills": spec}), call=lambda n, p: {"items": [{"id": 1, "name": "a"}], "total": "many"})
    with pytest.raises(BadResponse, match="total expression 'total' gave 'many'"):
        list(iter_mapped(ctx, spec, "fake:1"))
