"""The record path's faster code agrees with the code it replaced (kept here as the reference):

* ``engine.ids``: record ids byte for byte (stored ids must never change);
* ``engine.spec._jclosure``: function calls checked without ``Functions.call_function``,
  comparisons against string/null literals, fused field chains and ``field[i]`` give the tree
  interpreter's result or its exact error (type and message);
* ``engine.store._dialect.dump_json`` (orjson, stdlib fallback): the same JSON value, and the
  same refusals, as the stdlib encoder;
* ``engine.mapper.canonical_json`` (orjson when provably the same bytes): the stdlib text the
  stored hashes were computed from, byte for byte;
* ``engine.mapper.RecordMapper``: ref ids from its per-target cache equal ``record_id``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import mapper as mapper_module
from engine.ids import ALPHABET, encode_base58, record_id
from engine.plugins import get_plugin_manager
from engine.spec import function_set
from engine.spec._jclosure import compile_closure
from engine.store._dialect import _json_default, dump_json

# --------------------------------------------------------------------------- references
_OLD_PAIRS = [hi + lo for hi in ALPHABET for lo in ALPHABET]


def _old_encode_base58(data: bytes, length: int = 24) -> str:
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length // 2):
        n, r = divmod(n, 3364)
        out.append(_OLD_PAIRS[r])
    if length % 2:
        out.append(ALPHABET[n % 58])
    return "".join(reversed(out))


def _old_record_id(integration_id: str, model: str, remote_id: str) -> str:
    digest = hashlib.blake2b("\x1f".join((integration_id, model, remote_id)).encode(), digest_size=20).digest()
    return _old_encode_base58(digest)


_OLD_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)

# --------------------------------------------------------------------------- ids
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=40), length=st.integers(0, 30))
def test_base58_matches_the_replaced_encoder(data, length):
    assert encode_base58(data, length) == _old_encode_base58(data, length)
    assert encode_base58(data) == _old_encode_base58(data)


@settings(max_examples=500, deadline=None)
@given(integration=TEXT, model=st.sampled_from(["users", "courses", "course_progressions", "x"]), remote=TEXT)
def test_record_ids_are_byte_for_byte_the_old_ones(integration, model, remote):
    assert record_id(integration, model, remote) == _old_record_id(integration, model, remote)


def test_record_id_of_a_known_record_is_unchanged():
    # a stored id from before the change: it must never move
    assert record_id("moodle:Abc", "users", "42") == _old_record_id("moodle:Abc", "users", "42")
    assert len(record_id("moodle:Abc", "users", "42")) == 24
    assert encode_base58(b"\xff" * 20) == _old_encode_base58(b"\xff" * 20)
    assert encode_base58(b"") == "1" * 24


# --------------------------------------------------------------------------- closures
EXPRESSIONS = [
    # functions whose argument types are checked here (wrong types must give jmespath's error)
    "length(a)", "length(items)", "abs(a)", "starts_with(a, b)", "ends_with(a, 'x')", "contains(items, a)",
    "join(a, items)", "length(a) == `0`", "to_string(a)", "type(a)", "keys(a)", "values(a)", "floor(a)",
    "not_null(a, b, c)", "max(items)", "sum(items)", "moodle_bool(a)", "key(a, b)", "key(a)",
    "moodle_link_id(a, 'user')", "moodle_link_id(a, b)", "moodle_yesno(a)", "coalesce(a, b)",
    # literal comparisons and their neighbours (0/1 vs booleans is jmespath's special case)
    "a == 'x'", "'x' == a", "a != ''", "a == `null`", "`null` != a", "a == `1`", "a == `true`", "a != `0`",
    "items[?v == 'x'].v", "items[?v != `null`] | length(@)",
    # fused field chains and field[i]
    "a.b", "a.b.c", "a | b", "a.b | c", "items[0]", "items[-1]", "items[5]", "a[0]", "a.items[1]",
    "items[].v", "items[*].items[0]",
]
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.0, 1.0, 1.5]),
                 st.sampled_from(["", "x", "1", "a,b", '<a href="http://h/user/view.php?id=7">U</a>']))
JSON = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c", "v", "items"]), inner, max_size=4)), max_leaves=10)
DOCS = st.fixed_dictionaries({}, optional={k: JSON for k in ("a", "b", "c", "items")})


def _outcome(fn, doc):
    try:
        value = fn(doc)
    except Exception as exc:  # noqa: BLE001 - the same error, message included, is the contract
        return ("error", type(exc).__name__, str(exc))
    return ("ok", value, type(value).__name__)


@pytest.fixture(scope="module")
def functions():
    return function_set(get_plugin_manager())


@settings(max_examples=1500, deadline=None)
@given(source=st.sampled_from(EXPRESSIONS), doc=DOCS)
def test_closures_give_the_interpreters_results_and_errors(functions, source, doc):
    parsed = jmespath.compile(source)
    closure = compile_closure(parsed.parsed, functions.instance)
    assert closure is not None
    assert _outcome(closure, doc) == _outcome(lambda d: parsed.search(d, options=functions.options), doc)


def test_a_wrong_argument_type_is_jmespaths_error(functions):
    closure = compile_closure(jmespath.compile("length(a)").parsed, functions.instance)
    with pytest.raises(jmespath.exceptions.JMESPathTypeError, match="length"):
        closure({"a": 5})
    assert closure({"a": "abc"}) == 3


def test_a_functions_subclass_that_checks_differently_keeps_call_function(functions):
    calls = []

    class Counting(type(functions.instance)):
        def call_function(self, name, args):
            calls.append(name)
            return super().call_function(name, args)

    closure = compile_closure(jmespath.compile("length(a)").parsed, Counting())
    assert closure({"a": [1, 2]}) == 2 and calls == ["length"]


# --------------------------------------------------------------------------- dump_json
STORED = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=8),
              st.datetimes(timezones=st.sampled_from([None, timezone.utc, timezone(timedelta(hours=2))]))),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=4), inner, max_size=4),
                            st.dictionaries(st.integers(0, 3), inner, max_size=2)),
    max_leaves=12)


@settings(max_examples=800, deadline=None)
@given(value=STORED)
def test_dump_json_stores_the_stdlib_encoders_value(value):
    assert json.loads(dump_json(value)) == json.loads(_OLD_ENCODER.encode(value))


@pytest.mark.parametrize("value", [object(), {"a": b"bytes"}, [datetime(2024, 1, 1).date()], {"x": {1, "a"} and object()}])
def test_dump_json_refuses_what_the_stdlib_refused(value):
    with pytest.raises(TypeError) as old:
        _OLD_ENCODER.encode(value)
    with pytest.raises(TypeError) as new:
        dump_json(value)
    assert str(new.value) == str(old.value)


def test_dump_json_keeps_the_nul_escape_postgres_rewrites():
    assert dump_json({"a": "x\x00y"}) == '{"a":"x\\u0000y"}'
    assert dump_json({"b": 1, "a": 2}) == '{"b":1,"a":2}'  # key order kept (not sorted)


# --------------------------------------------------------------------------- mapper refs
def test_ref_ids_from_the_cache_equal_record_id(monkeypatch):
    monkeypatch.setattr(mapper_module, "_REF_CACHE", 3)  # cleared several times below
    mapper = mapper_module.RecordMapper.__new__(mapper_module.RecordMapper)
    mapper.integration_id = "moodle:RefCache"
    mapper._ref_ids = {"users": {}}
    values = [1, "2", 3.0, 1, 4, 5, 2, 6, 1, None, True, "", 7.5]
    got = [mapper._ref_id("users", v) for v in values]
    want = [None if t is None else _old_record_id("moodle:RefCache", "users", t)
            for t in (mapper_module._remote_id(v) for v in values)]
    assert got == want
    assert len(mapper._ref_ids["users"]) <= 3


# --------------------------------------------------------------------------- canonical JSON (hashes)
_OLD_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


class _Color(enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


class _Text(str):
    def __str__(self) -> str:
        return "other"


ODD = st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e-7, 5e-324, 1e16, 1e22, -0.0, 2**64, -2**63 - 1,
                       _Color.RED, _Level.HIGH, _Text("t"), uuid.UUID(int=5), datetime(2024, 1, 1, tzinfo=timezone.utc),
                       datetime(2024, 1, 1).date(), {1, 2}, b"x", "1e-7", "e-5", "\x00\x1f\x7f\u2028\U0001F600"])
CANONICAL = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6), ODD),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner),
                            st.dictionaries(st.text(max_size=4), inner, max_size=4),
                            st.dictionaries(st.integers(0, 3), inner, max_size=2)),
    max_leaves=10)


@settings(max_examples=1500, deadline=None)
@given(value=CANONICAL)
def test_canonical_json_is_byte_for_byte_the_stdlib_text(value):
    assert mapper_module.canonical_json(value) == _OLD_CANONICAL(value).encode()


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), st.one_of(st.floats(allow_nan=False), st.text(), st.integers(-2**63, 2**64 - 1)),
                             max_size=8))
def test_hashes_are_the_old_hashes(value):
    old = hashlib.blake2b(_OLD_CANONICAL(value).encode(), digest_size=16).hexdigest()
    assert mapper_module.canonical_hash(value) == old
