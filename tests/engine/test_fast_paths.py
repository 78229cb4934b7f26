"""The sync's fast paths agree with their references (hypothesis):

* ``schemas._loader.fast_model_check`` (fastjsonschema) vs ``model_validator`` (jsonschema);
* JMESPath closures (``engine.spec._jclosure``) vs jmespath's tree interpreter.
"""

from __future__ import annotations

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ids import ALPHABET, encode_base58
from engine.models import MODELS
from engine.plugins import get_plugin_manager
from engine.spec import function_set
from engine.spec._jclosure import compile_closure
from schemas._loader import fast_model_check, load_schema, model_validator

MAPPED_MODELS = [m for m, info in MODELS.items() if "mapped" in load_schema(info.schema_file).get("$defs", {})]

DATES = st.sampled_from([
    "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123+02:00", "2024-01-02 03:04:05z", "2024-02-30T00:00:00Z",
    "2024-13-01T00:00:00Z", "2024-01-02", "2024-01-02T03:04:05", "not a date", "2024-01-02T25:00:00Z", "",
])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([1.0, 0.0, 2.5]), st.text(max_size=5), DATES)


def _values(model: str):
    props = load_schema(MODELS[model].schema_file)["$defs"]["mapped"].get("properties", {})
    enums = [v for p in props.values() for v in p.get("enum", [])]
    leaf = st.one_of(SCALARS, st.sampled_from(enums or [None]))
    value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(["name", "value", "id", "x"]), inner, max_size=3)),
                         max_leaves=6)
    return st.dictionaries(st.sampled_from([*props, "extra"]), value, max_size=len(props) + 1)


def _valid_base(model: str) -> dict:
    """A record built from each property's first allowed type, for shrinking towards validity."""
    mapped = load_schema(MODELS[model].schema_file)["$defs"]["mapped"]
    out = {}
    for name, prop in mapped.get("properties", {}).items():
        types = prop.get("type", "null")
        types = [types] if isinstance(types, str) else types
        if "enum" in prop:
            out[name] = prop["enum"][0]
        elif "string" in types:
            out[name] = "2024-01-02T03:04:05Z" if prop.get("format") == "date-time" else "x"
        elif "null" in types:
            out[name] = None
        elif "array" in types:
            out[name] = []
        elif "boolean" in types:
            out[name] = True
        elif "object" in types:
            out[name] = {}
        else:
            out[name] = 1
    return out


@pytest.mark.parametrize("model", MAPPED_MODELS)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_schema_check_agrees_with_jsonschema(model, data):
    base = _valid_base(model)
    assert fast_model_check(model)(base) is True and model_validator(model).is_valid(base)
    patch = data.draw(_values(model))
    instance = {**base, **patch} if data.draw(st.booleans()) else patch
    assert fast_model_check(model)(instance) == model_validator(model).is_valid(instance), instance


EXPRESSIONS = [
    "a", "a.b.c", "@", "`null`", "'x'", "a == b", "a != `1`", "a < b", "a >= `0`", "!a", "a && b", "a || b",
    "a && 'Y' || 'N'", "items[?complete]", "items[?v > `1`].v", "items[*].v", "items[0]", "items[-1].v",
    "items[1:2]", "items[]", "a.*", "{x: a, y: b}", "[a, b]", "a | b", "length(items || `[]`)",
    "max(items[?v != `null`].v || `[]`)", "to_string(a)", "join('', [to_string(a), 'z'])",
    "moodle_bool(a) == `true`", "key(a, b)", "not_null(a, b)", "type(a)", "contains(items, a)",
    "items[?v > `0`] | length(@)", "a.b || `false` && !c",
]
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.0, 1.0, 1.5]), st.sampled_from(["", "x", "1"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b", "c", "v", "complete", "items"]), inner, max_size=4)),
    max_leaves=10,
)
DOCS = st.fixed_dictionaries({}, optional={k: JSON for k in ("a", "b", "c", "items")})


def _outcome(fn, doc):
    try:
        return ("ok", fn(doc))
    except Exception as exc:  # noqa: BLE001 - the same error type is part of the contract
        return ("error", type(exc).__name__)


@settings(max_examples=400, deadline=None)
@given(source=st.sampled_from(EXPRESSIONS), doc=DOCS)
def test_jmespath_closures_agree_with_the_interpreter(source, doc):
    functions = function_set(get_plugin_manager())
    parsed = jmespath.compile(source)
    closure = compile_closure(parsed.parsed, functions.instance)
    assert closure is not None
    expected = _outcome(lambda d: parsed.search(d, options=functions.options), doc)
    got = _outcome(closure, doc)
    assert got == expected
    if got[0] == "ok":
        assert type(got[1]) is type(expected[1])


def test_expref_expressions_are_left_to_the_interpreter():
    functions = function_set(get_plugin_manager())
    assert compile_closure(jmespath.compile("sort_by(items, &v)").parsed, functions.instance) is None


@given(data=st.binary(max_size=32), length=st.integers(0, 30))
def test_base58_pairs_encoding_matches_the_digit_by_digit_definition(data, length):
    n = int.from_bytes(data, "big")
    digits = []
    for _ in range(length):
        n, r = divmod(n, 58)
        digits.append(ALPHABET[r])
    assert encode_base58(data, length) == "".join(reversed(digits))
