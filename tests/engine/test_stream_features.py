"""Connector-agnostic stream features: next_url pagination, grouping adjacent records, prepare
calls, and spec variants chosen by an integration's settings (``when``)."""

from __future__ import annotations

import pytest

from engine.errors import BadResponse, PaginationError, SpecError
from engine.mapper import iter_mapped
from engine.plugins import get_plugin_manager
from engine.runner import RunContext, iter_stream
from engine.spec import NEXT_URL_PARAM, SpecSet, function_set, load_spec_text

FUNCTIONS = function_set(get_plugin_manager())
FIELDS = 'fields: {name: name, remote_created_at: "`null`"}\n'


def _spec(source: str, extra: str = "", model: str = "skills"):
    return load_spec_text(f"model: {model}\n{extra}source:\n{source}remote_id: id\n{FIELDS}", "<test>", FUNCTIONS)


def _records(spec, call, settings=None):
    ctx = RunContext(specset=SpecSet("t", {spec.model: spec}), call=call, settings=settings or {})
    return list(iter_stream(ctx, spec.source))


# --- next_url ------------------------------------------------------------------------------
NEXT = "  call: items\n  params: {per_page: 2}\n  records: data\n  pagination: {type: next_url, next: links.next, max_pages: 20}\n"


class Chain:
    """Pages 0..n-1 linked by URL; *loop_at* makes page k point back at page 1's URL."""

    def __init__(self, pages: int, loop_at: int | None = None, bad_next: object = None) -> None:
        self.pages, self.loop_at, self.bad_next, self.calls = pages, loop_at, bad_next, []

    def __call__(self, name, params):
        self.calls.append(params)
        n = 0 if NEXT_URL_PARAM not in params else int(params[NEXT_URL_PARAM].rsplit("=", 1)[1])
        nxt = None if n + 1 >= self.pages else f"https://lms.example/api/items?page={n + 1}"
        if self.loop_at is not None and n == self.loop_at:
            nxt = "https://lms.example/api/items?page=1"
        if self.bad_next is not None and n == 1:
            nxt = self.bad_next
        return {"data": [{"id": 2 * n, "name": "a"}, {"id": 2 * n + 1, "name": "b"}], "links": {"next": nxt}}


def test_next_url_follows_each_answers_url_as_given_until_none():
    api = Chain(4)
    assert [r["id"] for r in _records(_spec(NEXT), api)] == list(range(8))
    assert api.calls[0] == {"per_page": 2}  # the first page from the spec's params
    assert api.calls[1:] == [{NEXT_URL_PARAM: f"https://lms.example/api/items?page={i}"} for i in (1, 2, 3)]


def test_next_url_pointing_back_is_a_loop_and_fails_before_repeating_records():
    api = Chain(10, loop_at=3)
    with pytest.raises(PaginationError, match="repeat an earlier page URL"):
        _records(_spec(NEXT), api)
    assert len(api.calls) == 4


@pytest.mark.parametrize("bad", [42, ["u"], {"href": "u"}])
def test_next_url_that_is_not_a_url_is_a_bad_response(bad):
    with pytest.raises(BadResponse, match="expected a URL"):
        _records(_spec(NEXT), Chain(5, bad_next=bad))


def test_next_url_runaway_stops_at_max_pages():
    with pytest.raises(PaginationError, match="max_pages=20"):
        _records(_spec(NEXT), Chain(1000))


# --- group ---------------------------------------------------------------------------------
GROUP = "  call: rows\n  records: rows\n  group: {key: k, as: rows}\n"


def test_group_merges_adjacent_records_with_one_key():
    rows = [{"k": "a", "id": 1, "name": "x"}, {"k": "a", "id": 1, "name": "y"}, {"k": "b", "id": 2, "name": "z"}]
    out = _records(_spec(GROUP), lambda *_: {"rows": rows})
    assert [(r["k"], [x["name"] for x in r["rows"]]) for r in out] == [("a", ["x", "y"]), ("b", ["z"])]
    assert out[0]["name"] == "x" and "rows" not in out[0]["rows"][0]  # the first record's fields; no cycle


def test_group_key_coming_back_means_unsorted_and_fails():
    rows = [{"k": "a", "id": 1}, {"k": "b", "id": 2}, {"k": "a", "id": 1}]
    with pytest.raises(PaginationError, match="'a' are not adjacent"):
        _records(_spec(GROUP), lambda *_: {"rows": rows})


def test_group_null_key_is_refused_naming_the_expression():
    with pytest.raises(BadResponse, match="group key 'k' gave None"):
        _records(_spec(GROUP), lambda *_: {"rows": [{"id": 1}]})


def test_grouped_records_map_to_one_record_each():
    spec = _spec(GROUP)
    rows = [{"k": "a", "id": 1, "name": "x"}, {"k": "a", "id": 1, "name": "y"}]
    ctx = RunContext(specset=SpecSet("t", {"skills": spec}), call=lambda *_: {"rows": rows})
    mapped = list(iter_mapped(ctx, spec, "t:1"))
    assert len(mapped) == 1 and mapped[0].fields["name"] == "x" and ctx.warnings == []
    assert mapped[0].remote_data == {"rows": {"rows": rows}}  # the group's rows, each once


# --- prepare -------------------------------------------------------------------------------
def test_prepare_calls_run_once_before_the_first_page_with_settings():
    spec = _spec("  call: list\n  prepare:\n    - {call: reset, params: {id: \"=settings.report\"}}\n  records: items\n")
    calls = []

    def api(name, params):
        calls.append((name, params))
        return {"items": [{"id": 1, "name": "n"}]} if name == "list" else True

    _records(spec, api, {"report": 7})
    assert calls == [("reset", {"id": 7}), ("list", {})]
    assert spec.functions == ["list", "reset"]


# --- variants ------------------------------------------------------------------------------
DEFAULT = "  call: standard\n  records: items\n"
VARIANT = "  call: bulk\n  records: items\n"


def _set(*specs) -> SpecSet:
    out = SpecSet("t", {})
    for spec in specs:
        out.add(spec)
    out.check()
    return out


@pytest.mark.parametrize(("settings", "call"), [({}, "standard"), ({"bulk_id": None}, "standard"), ({"bulk_id": 0}, "bulk"),
                                                ({"bulk_id": 5}, "bulk")])
def test_a_variant_is_chosen_by_the_integrations_settings(settings, call):
    specs = _set(_spec(DEFAULT), _spec(VARIANT, 'when: "settings.bulk_id != `null`"\n'))
    assert specs.for_settings(settings).specs["skills"].source.call == call  # JMESPath truthiness: 0 is true


@pytest.mark.parametrize(("first", "second", "message"), [
    ("", "", "a second spec for model 'skills' (the first is <test>)"),
    ('when: "settings.x"\n', 'when: "settings.x"\n', "a second spec for model 'skills' with when 'settings.x'"),
])
def test_two_specs_for_one_model_and_condition_are_refused(first, second, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _set(_spec(DEFAULT, first), _spec(VARIANT, second))


def test_a_variant_is_checked_as_part_of_the_set():
    bad = _spec("  call: per_course\n  records: items\n  fan_out: {over: courses}\n", 'when: "settings.x"\n')
    with pytest.raises(SpecError, match="refers to model 'courses'"):
        _set(_spec(DEFAULT), bad)


# --- delta.skip ----------------------------------------------------------------------------
SKIP = ("  call: list\n  records: items\n", "enrich:\n  - name: extra\n    lookup: {call: detail, params: {id: \"=record.id\"}}\n")


def test_a_delta_does_not_read_a_skipped_enrichment_and_marks_the_record():
    from engine.runner import STAND_IN, iter_enriched

    spec = _spec(SKIP[0], SKIP[1] + "delta: {skip: [extra]}\n")
    calls = []

    def api(name, params):
        calls.append(name)
        return {"items": [{"id": 1, "name": "n"}]} if name == "list" else {"more": 1}

    for delta, expected in ((False, ["list", "detail"]), (True, ["list"])):
        calls.clear()
        ctx = RunContext(specset=SpecSet("t", {"skills": spec}), call=api, delta=delta)
        (rec,) = list(iter_enriched(ctx, spec))
        assert calls == expected
        assert (rec.get(STAND_IN) == ["extra"]) is delta and (rec["extra"] is None) is delta


def test_delta_skip_must_name_an_enrichment():
    with pytest.raises(SpecError, match="delta.skip names 'extar', which is not an enrichment of this spec \\(enrichments: extra\\)"):
        _spec(SKIP[0], SKIP[1] + "delta: {skip: [extar]}\n")
