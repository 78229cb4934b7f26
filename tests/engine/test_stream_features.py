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


# --- delta.reads ---------------------------------------------------------------------------
READS = ("  call: list\n  params: {all: 1}\n  records: items\n  prepare: [{call: reset}]\n",
         "delta:\n  when: \"settings.narrow == `true`\"\n  reads:\n"
         "    - prepare: [{call: narrow, params: {by: done, since: \"=since\"}}]\n"
         "    - prepare: [{call: narrow, params: {by: created}}]\n      params: {fresh: 1}\n      new_only: true\n"
         "  after: [{call: reset}]\n")


class Narrowing:
    """A remote side whose ``narrow`` call decides what the next ``list`` answers."""

    def __init__(self) -> None:
        self.calls, self.by = [], None

    def __call__(self, name, params):
        self.calls.append((name, params))
        if name == "narrow":
            self.by = params["by"]
        if name == "reset":
            self.by = None
        if name != "list":
            return True
        rows = {None: [1, 2, 3], "done": [2], "created": [2, 4]}[self.by]  # 2 is in two reads
        return {"items": [{"id": i, "name": f"n{i}"} for i in rows]}


def _delta_ctx(spec, api, *, since=1000, narrow=True, delta=True):
    specset = SpecSet("t", {"skills": spec}).for_settings({"narrow": narrow})
    return RunContext(specset=specset, call=api, settings={"narrow": narrow}, since=since, delta=delta)


def test_a_delta_makes_its_narrowed_reads_in_order_then_the_after_calls():
    from engine.runner import NEW_ONLY, iter_enriched

    spec, api = _spec(READS[0], READS[1]), Narrowing()
    ctx = _delta_ctx(spec, api)
    recs = list(iter_enriched(ctx, ctx.specset.specs["skills"]))
    assert [(r["id"], bool(r.get(NEW_ONLY))) for r in recs] == [(2, False), (2, True), (4, True)]
    assert api.calls == [("narrow", {"by": "done", "since": 1000}), ("list", {"all": 1}),
                         ("narrow", {"by": "created"}), ("list", {"all": 1, "fresh": 1}), ("reset", {})]
    assert sorted(ctx.specset.specs["skills"].functions) == ["list", "narrow", "reset"]


@pytest.mark.parametrize(("kw", "why"), [({"delta": False}, "a FULL"), ({"since": None}, "no earlier success"),
                                         ({"narrow": False}, "delta.when is false")])
def test_the_whole_source_is_read_otherwise(kw, why):
    from engine.runner import iter_enriched

    spec, api = _spec(READS[0], READS[1]), Narrowing()
    ctx = _delta_ctx(spec, api, **kw)
    assert [r["id"] for r in iter_enriched(ctx, ctx.specset.specs["skills"])] == [1, 2, 3], why
    assert api.calls == [("reset", {}), ("list", {"all": 1})], why
    if kw.get("narrow") is False:  # the set of an integration without the setting needs no `narrow`
        assert ctx.specset.specs["skills"].functions == ["list", "reset"]


def test_new_only_drops_stored_records_and_overlapping_reads_are_kept_once():
    from datetime import datetime, timezone

    from engine.ids import record_id
    from engine.store.base import StoredRecord

    spec, api = _spec(READS[0], READS[1]), Narrowing()
    ctx = _delta_ctx(spec, api)
    now = datetime.now(timezone.utc)
    stored = {record_id("i", "skills", "2"): now, record_id("i", "skills", "4"): now}
    gone = {record_id("i", "skills", "4")}  # 4 was deleted: a new_only read brings it back

    def reader(ids):
        return {i: StoredRecord(i, "x", {}, {}, now, now if i in gone else None) for i in ids if i in stored}

    out = list(iter_mapped(ctx, ctx.specset.specs["skills"], "i", stored=reader))
    assert [r.remote_id for r in out] == ["2", "4"]  # 2 from the first read (whole), 4 restored
    assert not ctx.warnings  # the overlap of narrowed reads is expected


@pytest.mark.parametrize(("delta", "message"), [
    ("delta:\n  reads:\n    - prepare: [{call: narrow}]\n      news_only: true\n", "news_only"),
    ("delta:\n  reads: []\n", "reads"),
    ("delta:\n  reads:\n    - new_only: yes please\n", "new_only"),
    ("delta:\n  when: \"settings.(\"\n  reads:\n    - new_only: true\n", "delta.when"),
])
def test_bad_delta_reads_are_refused_naming_the_spot(delta, message):
    with pytest.raises(SpecError, match=message.replace(".", "\\.")):
        _spec(READS[0], delta)


# --- page read-ahead -------------------------------------------------------------------------
PAGED = "  call: items\n  records: data\n  pagination: {type: page, limit: 2, stop: total, total: total}\n"


def test_the_next_page_is_fetched_while_this_pages_records_are_consumed():
    """Moodle or Canvas spends its time on page N+1 while lmsync maps page N: one page in
    flight, never more, and none after the last."""
    import threading

    asked, gate = [], threading.Event()

    def api(name, params):
        asked.append(params["page"] if "page" in params else None)
        return {"data": [{"id": 2 * len(asked) + i, "name": "n"} for i in range(2)] if len(asked) <= 3 else [],
                "total": 6}

    spec = _spec(PAGED.replace("call: items\n", "call: items\n  params: {page: \"=page.number\"}\n"))
    records = iter_stream(RunContext(specset=SpecSet("t", {"skills": spec}), call=api), spec.source)
    first = next(records)
    for _ in range(100):  # page 1 is asked for before page 0's first record is handed on... or soon after
        if len(asked) == 2:
            break
        gate.wait(0.01)
    assert asked == [0, 1] and first["id"] == 2
    rest = list(records)
    assert [r["id"] for r in rest] == [3, 4, 5, 6, 7] and asked == [0, 1, 2]  # the total stops it: no 4th call


def test_a_consumer_that_stops_early_leaves_no_thread_behind():
    import threading

    def api(name, params):
        return {"data": [{"id": params["page"] * 2 + i, "name": "n"} for i in range(2)], "total": 100}

    spec = _spec(PAGED.replace("call: items\n", "call: items\n  params: {page: \"=page.number\"}\n"))
    before = {t.name for t in threading.enumerate()}
    records = iter_stream(RunContext(specset=SpecSet("t", {"skills": spec}), call=api), spec.source)
    assert [next(records)["id"] for _ in range(3)] == [0, 1, 2]
    records.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("lmsync-page") and t.name not in before]


def test_a_skipped_look_up_whose_when_is_false_gets_none_as_in_a_full():
    """A FULL would not call the look-up for a record its ``when`` excludes (e.g. one suspended
    since): on a DELTA the stored answer must not stand in for it either."""
    from engine.runner import STAND_IN, iter_enriched

    enrich = "enrich:\n  - name: extra\n    lookup: {call: detail, params: {id: \"=record.id\"}, when: \"active == `true`\"}\n"
    spec = _spec(SKIP[0], enrich + "delta: {skip: [extra]}\n")

    def api(name, params):
        return {"items": [{"id": 1, "name": "a", "active": True}, {"id": 2, "name": "b", "active": False}]}

    ctx = RunContext(specset=SpecSet("t", {"skills": spec}), call=api, delta=True)
    on, off = iter_enriched(ctx, spec)
    assert on.get(STAND_IN) == ["extra"] and off.get(STAND_IN) is None
    assert on["extra"] is None and off["extra"] is None


def test_a_grouped_records_remote_id_is_its_group_key_when_both_are_one_expression(monkeypatch):
    """The group key was computed for every row already: a spec whose remote_id is the same
    expression does not evaluate it again (and a different one is evaluated)."""
    from engine.runner import GROUP_KEY

    rows = [{"k": "a", "id": 1, "name": "x"}, {"k": "a", "id": 1, "name": "y"}, {"k": "b", "id": 2, "name": "z"}]
    same = load_spec_text(f"model: skills\nsource:\n{GROUP}remote_id: k\n{FIELDS}", "<test>", FUNCTIONS)
    other = load_spec_text(f"model: skills\nsource:\n{GROUP}remote_id: id\n{FIELDS}", "<test>", FUNCTIONS)
    for spec, expected in ((same, ["a", "b"]), (other, ["1", "2"])):
        ctx = RunContext(specset=SpecSet("t", {"skills": spec}), call=lambda *_: {"rows": rows})
        recs = list(iter_stream(ctx, spec.source))
        assert [r[GROUP_KEY] for r in recs] == ["a", "b"]
        evaluated = []
        original = type(spec.remote_id).__call__
        monkeypatch.setattr(type(spec.remote_id), "__call__", lambda self, d: evaluated.append(self.where) or original(self, d))
        mapped = list(iter_mapped(ctx, spec, "t:1"))
        monkeypatch.undo()
        assert [m.remote_id for m in mapped] == expected
        assert (spec.remote_id.where in evaluated) is (spec is other)
        assert all(GROUP_KEY not in str(m.remote_data) for m in mapped)
