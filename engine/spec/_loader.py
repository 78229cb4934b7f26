"""Load mapping specs: YAML → schema check → semantic checks → compiled ``Spec``."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match, relevance

from engine.errors import ExpressionError, SpecError
from engine.models import MODEL_ORDER, MODELS
from engine.spec._jmes import Expr, FunctionSet, compile_expr, root_fields
from engine.spec._model import DeltaRead, Expect, FanOut, FieldMap, Group, Join, Lookup, Pagination, ParamTemplate, Prepare, Spec, Stream
from engine.spec._yaml import Located, dotted, load_located, source_caret

__all__ = ["load_spec_text", "load_spec_file", "load_specs", "SpecSet", "spec_schema"]

_DEFAULTS = {"custom_fields": {}, "integration_fields": []}


@functools.cache
def spec_schema() -> dict[str, Any]:
    """The JSON Schema of the mapping language (``schemas/mapping-spec.schema.json``)."""
    return json.loads(resources.files("schemas").joinpath("mapping-spec.schema.json").read_text())


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(spec_schema())


def _schema_errors(doc: Located) -> list[tuple[tuple[Any, ...], SpecError]]:
    """Every schema violation of *doc* as ``(path it is about, located error)``, the one
    ``best_match`` picks first (as a single error it is what the author sees).

    Each violation is narrowed like ``best_match`` does (into the most relevant branch of a
    ``oneOf``); an object with several unknown keys gives one error per key; a missing key
    that an unknown key is a misspelling of is not reported twice."""
    tops = sorted(_validator().iter_errors(doc.data), key=relevance, reverse=True)
    out: list[tuple[tuple[Any, ...], SpecError]] = []
    missing_keys: list[tuple[tuple[Any, ...], str, int]] = []
    suggested: set[tuple[Any, ...]] = set()
    for top in tops:
        error = best_match([top])
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            extra = sorted((k for k in error.instance if k not in allowed), key=str)
            if extra:
                hint = f" (expected one of: {', '.join(sorted(allowed))})" if allowed else ""
                for key in extra:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    if close:
                        suggested.add((*path, close[0]))
                    mean = f"; did you mean {close[0]!r}?" if close else ""
                    out.append(((*path, key), doc.error((*path, key), f"unknown key {key!r}{mean}{hint}", on_key=True)))
                continue
        if error.validator == "required":
            missing = next((k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance), None)
            if missing is not None:
                missing_keys.append(((*path, missing), missing, len(out)))
            out.append(((*path, missing) if missing is not None else path, doc.error(path, error.message)))
            continue
        value = json.dumps(error.instance, default=str)
        if len(value) > 80:
            value = value[:77] + "..."
        message = f"{error.message} (value: {value})" if error.validator != "oneOf" else f"invalid value {value}: {error.message}"
        out.append((path, doc.error(path, message)))
    drop = {index for where, _, index in missing_keys if where in suggested}
    return [entry for i, entry in enumerate(out) if i not in drop]


def _within(path: tuple[Any, ...], covered: list[tuple[Any, ...]]) -> bool:
    return any(path[:len(c)] == c for c in covered)


class _Compiler:
    """Turns one spec document into compiled objects, collecting every located error.

    ``lenient`` (the document already failed its schema): a part too malformed to compile is
    skipped (its schema error says why), and errors about parts with a schema error are dropped."""

    def __init__(self, doc: Located, functions: FunctionSet, known_calls: Collection[str] | None = None,
                 covered: list[tuple[Any, ...]] | None = None) -> None:
        self.doc = doc
        self.functions = functions
        self.known_calls = known_calls
        self.covered = covered or []
        self.lenient = covered is not None
        self.errors: list[tuple[tuple[Any, ...], SpecError]] = []

    def fail(self, path: tuple[Any, ...], error: SpecError) -> None:
        """Record *error* (about *path*) unless a schema error already covers that part."""
        if not _within(path, self.covered):
            self.errors.append((path, error))

    def part(self, build: Callable[[], Any]) -> Any:
        """``build()``; in lenient mode a malformed part is skipped (None)."""
        if not self.lenient:
            return build()
        try:
            return build()
        except (LookupError, TypeError, AttributeError, ValueError, RecursionError):
            return None

    def expr(self, path: tuple[Any, ...], source: Any, offset: int = 0) -> Expr | None:
        """The compiled expression at *path* (its text starts *offset* characters into the
        YAML value, e.g. 1 after a parameter's ``=``); None after recording its error."""
        def locate(at: int | None) -> tuple[int | None, int | None, str]:
            pos = self.doc.offset_position(path, offset + at) if at is not None and at >= 0 else None
            line, column = pos or self.doc.position(path)
            return line, column, source_caret(self.doc.text_lines, line, column)

        try:
            return compile_expr(source, self.functions, file=self.doc.file, line=self.doc.line(path), field=dotted(path),
                                locate=locate)
        except ExpressionError as exc:
            self.fail(path, exc)
            return None

    def call(self, path: tuple[Any, ...], name: Any) -> Any:
        """*name* (a remote function), checked against the connector's known calls if it has any."""
        if self.known_calls is not None and isinstance(name, str) and name not in self.known_calls:
            close = difflib.get_close_matches(name, self.known_calls, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(path, self.doc.error(path, f"unknown remote function {name!r}{hint}"))
        return name

    def params(self, path: tuple[Any, ...], node: Any) -> ParamTemplate:
        return ParamTemplate(self._param_node(path, node))

    def _param_node(self, path: tuple[Any, ...], node: Any) -> Any:
        if isinstance(node, dict):
            return {str(k): self._param_node((*path, k), v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._param_node((*path, i), v) for i, v in enumerate(node)]
        if isinstance(node, str) and node.startswith("="):
            if node.startswith("=="):
                return node[1:]
            return self.expr(path, node[1:], offset=1)
        if node is None:
            self.fail(path, self.doc.error(path, "a parameter value cannot be null"))
        return node

    def optional_expr(self, path: tuple[Any, ...], node: dict[str, Any], key: str) -> Expr | None:
        return self.expr((*path, key), node[key]) if key in node else None

    def stream(self, path: tuple[Any, ...], node: dict[str, Any]) -> Stream:
        pag = node.get("pagination", {"type": "none"})
        pagination = self.part(lambda: Pagination(
            type=pag["type"],
            limit=pag.get("limit", 0),
            start=pag.get("start", 0),
            stop=pag.get("stop", "empty_page"),
            total=self.optional_expr((*path, "pagination"), pag, "total"),
            max_pages=pag.get("max_pages", 100_000),
            next=self.optional_expr((*path, "pagination"), pag, "next"),
        ))
        fan = node.get("fan_out")
        fan_out = None
        if fan:
            fp = (*path, "fan_out")
            fan_out = self.part(lambda: FanOut(
                over=fan.get("over"),
                stream=self.part(lambda: self.stream((*fp, "stream"), fan["stream"])) if "stream" in fan else None,
                keep=self.optional_expr(fp, fan, "keep"),
                as_=fan.get("as"),
                concurrency=fan.get("concurrency", 4),
            ))
        if node.get("from") and (fan or "params" in node or "pagination" in node):
            self.fail((*path, "from"), self.doc.error((*path, "from"),
                      "a stream with `from` reuses records: it takes no params, pagination or fan_out"))
        records = self.expr((*path, "records"), node.get("records", "@"))
        shape = node.get("expect", {})
        group = node.get("group")
        gp = (*path, "group")
        prepare = node.get("prepare", [])
        return Stream(
            where=f"{self.doc.file}:{self.doc.line(path)} {dotted(path)}",
            call=self.call((*path, "call"), node.get("call")),
            from_=node.get("from"),
            params=self.part(lambda: self.params((*path, "params"), node.get("params", {}))),
            records=records,
            pagination=pagination,
            fan_out=fan_out,
            filter=self.optional_expr(path, node, "filter"),
            expect=self.part(lambda: Expect(records, "list", shape.get("records") == "optional", tuple(shape.get("keys", ())))),
            group=self.part(lambda: Group(self.expr((*gp, "key"), group["key"]), group["as"])) if group else None,
            prepare=self.calls((*path, "prepare"), prepare),
        )

    def calls(self, path: tuple[Any, ...], node: Any) -> tuple[Prepare, ...]:
        """A list of ``{call, params}`` made for their effect (``prepare``, ``delta.after``)."""
        return tuple(self.part(lambda i=i, p=p: Prepare(self.call((*path, i, "call"), p["call"]),
                                                        self.params((*path, i, "params"), p.get("params", {}))))
                     for i, p in enumerate(node if isinstance(node, list) else []))

    def delta_reads(self, node: Any) -> tuple[DeltaRead, ...]:
        """``delta.reads``: narrowed reads of the source a DELTA makes instead of a whole read."""
        path = ("delta", "reads")
        return tuple(self.part(lambda i=i, r=r: DeltaRead(
            prepare=self.calls((*path, i, "prepare"), r.get("prepare", [])),
            params=self.params((*path, i, "params"), r["params"]) if r.get("params") else None,
            new_only=bool(r.get("new_only", False))))
            for i, r in enumerate(node if isinstance(node, list) else []))

    def enrichment(self, path: tuple[Any, ...], node: dict[str, Any]) -> Join | Lookup:
        name = node["name"]
        if "join" in node:
            j = node["join"]
            jp = (*path, "join")
            return Join(
                name=name,
                stream=self.part(lambda: self.stream((*jp, "stream"), j["stream"])),
                key=self.part(lambda: self.expr((*jp, "key"), j["key"])),
                match=self.part(lambda: self.expr((*jp, "match"), j["match"])),
                keep=self.optional_expr(jp, j, "keep"),
            )
        lk = node["lookup"]
        lp = (*path, "lookup")
        result, shape = self.expr((*lp, "result"), lk.get("result", "@")), lk.get("expect", {})
        return Lookup(
            name=name,
            call=self.call((*lp, "call"), lk["call"]),
            params=self.part(lambda: self.params((*lp, "params"), lk.get("params", {}))),
            when=self.optional_expr(lp, lk, "when"),
            result=result,
            ignore_errors=frozenset(lk.get("ignore_errors", ())),
            concurrency=lk.get("concurrency", 4),
            expect=self.part(lambda: Expect(result, "value", shape.get("result") == "optional", tuple(shape.get("keys", ())))),
        )

    def fields(self, model: str, node: dict[str, Any]) -> list[FieldMap]:
        info = MODELS[model]
        expected = set(info.fields)
        out = []
        for name, value in node.items():
            path = ("fields", name)
            if name not in expected:
                close = difflib.get_close_matches(str(name), info.fields, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(path, self.doc.error(path, f"{model} has no field {name!r}{hint} (fields: {', '.join(info.fields)})",
                                               on_key=True))
                continue
            ref = value.get("ref") if isinstance(value, dict) else None
            source = value.get("expr") if isinstance(value, dict) else value
            want = info.refs.get(name)
            if want and ref != want:
                self.fail(path, self.doc.error(path, f"{name} holds an lmsync id: write it as {{expr: <remote id>, ref: {want}}}"))
            elif ref and not want:
                self.fail(path, self.doc.error(path, f"{name} is not an id field; `ref` is not allowed here"))
            out.append(FieldMap(name, self.expr(path if not ref else (*path, "expr"), source), ref))
        missing = [f for f in info.fields if f not in node and f not in _DEFAULTS]
        if missing:
            self.fail(("fields",), self.doc.error(
                ("fields",), f"unmapped field(s) of {model}: {', '.join(missing)} (map unsupported ones to \"`null`\")"))
        return out

    def delta_skip(self, data: dict[str, Any]) -> frozenset[str]:
        """``delta.skip``: each name must be one of the spec's enrichments."""
        names = [e.get("name") for e in data.get("enrich", []) if isinstance(e, dict)]
        skip = data.get("delta", {}).get("skip", [])
        for i, name in enumerate(skip):
            if name not in names:
                self.fail(("delta", "skip", i), self.doc.error(("delta", "skip", i),
                          f"delta.skip names {name!r}, which is not an enrichment of this spec (enrichments: {', '.join(map(str, names)) or 'none'})"))
        return frozenset(skip)

    def spec(self) -> Spec | None:
        """The compiled spec (meaningful only when no error was recorded)."""
        data, part = self.doc.data, self.part
        model = data.get("model")
        enrich = data.get("enrich", [])
        spec = part(lambda: Spec(
            model=model,
            file=self.doc.file,
            description=data.get("description", ""),
            source=part(lambda: self.stream(("source",), data["source"])),
            enrich=[part(lambda i=i, e=e: self.enrichment(("enrich", i), e)) for i, e in enumerate(enrich)],
            remote_id=part(lambda: self.expr(("remote_id",), data["remote_id"])),
            fields=part(lambda: self.fields(model, data["fields"])),
            requires=[self.call(("requires", i), r) for i, r in enumerate(part(lambda: list(data.get("requires", []))) or [])],
            delta_params=part(lambda: self.params(("delta", "params"), data["delta"]["params"])
                              if data.get("delta", {}).get("params") else None),
            delta_skip=part(lambda: self.delta_skip(data)) or frozenset(),
            delta_reads=part(lambda: self.delta_reads(data.get("delta", {}).get("reads", []))) or (),
            delta_after=part(lambda: self.calls(("delta", "after"), data.get("delta", {}).get("after", []))) or (),
            delta_when=self.optional_expr(("delta",), data.get("delta", {}), "when") if isinstance(data.get("delta"), dict) else None,
            defaults=part(lambda: {k: v for k, v in _DEFAULTS.items() if k not in data["fields"] and k in MODELS[model].fields}),
            when=self.optional_expr((), data, "when"),
        ))
        seen: set[Any] = set()
        for i, step in enumerate(enrich if isinstance(enrich, list) else []):
            name = step.get("name") if isinstance(step, dict) else None
            if isinstance(name, str) and name in seen:
                self.fail(("enrich", i, "name"), self.doc.error(("enrich", i, "name"), f"enrichment name {name!r} is used twice"))
            if isinstance(name, str):
                seen.add(name)
        return spec


def _position(error: SpecError) -> tuple[int, int]:
    return error.line or 0, error.column or 0


def _unique(errors: list[SpecError], first: SpecError) -> list[SpecError]:
    seen = {str(first)}
    return [e for e in errors if not (str(e) in seen or seen.add(str(e)))]


def load_spec_text(text: str, file: str, functions: FunctionSet, *, known_calls: Collection[str] | None = None) -> Spec:
    """Load one spec from YAML *text*; *file* is used in error messages.

    *known_calls* (the connector's remote functions, None: not known) makes a ``call`` or
    ``requires`` entry naming another function an error. Every independent problem of the file
    is found: the ``SpecError`` raised lists them all in ``errors`` (in file order)."""
    doc = load_located(text, file)
    if not isinstance(doc.data, dict):
        raise SpecError(f"a mapping spec must be a YAML mapping, got {type(doc.data).__name__}", file=file, line=1)
    try:
        schema = _schema_errors(doc)
        compiler = _Compiler(doc, functions, known_calls, [p for p, _ in schema] if schema else None)
        spec = compiler.spec()
    except RecursionError:
        raise SpecError("the document nests too deeply", file=file) from None
    errors = [e for _, e in schema] + [e for _, e in compiler.errors]
    if errors:
        # the first stays what a stop-at-the-first-error check would report; the rest in file order
        errors = [errors[0], *sorted(_unique(errors[1:], errors[0]), key=_position)]
        raise type(errors[0]).collected(errors)
    assert spec is not None  # a strict compile either builds the spec or raises
    spec.enrich = [_with_feeds(step, spec.fields) for step in spec.enrich]
    return spec


def _with_feeds(step: Join | Lookup, fields: list[FieldMap]) -> Join | Lookup:
    """A look-up knowing which unified fields read its result (kept on an ignored error)."""
    if not isinstance(step, Lookup):
        return step
    return dataclasses.replace(step, feeds=frozenset(f.name for f in fields if step.name in root_fields(f.expr.source)))


def load_spec_file(path: Any, functions: FunctionSet, *, known_calls: Collection[str] | None = None) -> Spec:
    """Load one spec file (a path, or an importlib ``Traversable``); see ``load_spec_text``."""
    try:
        text = (path if hasattr(path, "read_text") else Path(path)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", file=str(path)) from None
    return load_spec_text(text, str(path), functions, known_calls=known_calls)


def _truthy(value: Any) -> bool:
    """JMESPath truthiness (``0`` is true; null, false and empty strings/lists/objects are not)."""
    return value is not None and value is not False and value != "" and value != [] and value != {}


@dataclass
class SpecSet:
    """The specs of one connector, checked as a whole (references resolve, no cycles).

    ``specs`` holds each model's default spec; ``variants`` the specs with a ``when`` condition,
    in file order. ``for_settings`` resolves them for one integration."""

    connector: str
    specs: dict[str, Spec]
    variants: dict[str, list[Spec]] = field(default_factory=dict)

    def add(self, spec: Spec, *, replace: bool = False) -> None:
        """Add *spec* as its model's default or (with ``when``) as a variant; a second spec with
        the same model and condition is an error naming both files, unless *replace*."""
        condition = spec.when.source if spec.when is not None else None
        same = [s for s in self._candidates(spec.model) if (s.when.source if s.when is not None else None) == condition]
        if same and not replace:
            which = f" with when {condition!r}" if condition else ""
            raise SpecError(f"a second spec for model {spec.model!r}{which} (the first is {same[0].file})", file=spec.file, line=1)
        if condition is None:
            self.specs[spec.model] = spec
            return
        variants = [s for s in self.variants.get(spec.model, []) if all(s is not x for x in same)]
        self.variants[spec.model] = [*variants, spec]

    def _candidates(self, model: str) -> list[Spec]:
        return ([self.specs[model]] if model in self.specs else []) + self.variants.get(model, [])

    def all_specs(self) -> list[Spec]:
        """Every spec, defaults and variants."""
        return [*self.specs.values(), *(v for vs in self.variants.values() for v in vs)]

    def for_settings(self, settings: dict[str, Any] | None) -> "SpecSet":
        """The specs an integration with *settings* uses: for each model the first variant whose
        ``when`` holds on ``{settings: …}``, else its default."""
        context = {"settings": settings or {}}
        if not self.variants and not any(s.delta_when is not None for s in self.specs.values()):
            return self
        chosen = dict(self.specs)
        for model, variants in self.variants.items():
            match = next((v for v in variants if _truthy(v.when(context))), None)
            if match is not None:
                chosen[model] = match
        for model, spec in chosen.items():  # ``delta.when`` false: a DELTA reads the whole source
            if spec.delta_when is not None and not _truthy(spec.delta_when(context)):
                chosen[model] = dataclasses.replace(spec, delta_reads=(), delta_after=(), delta_when=None)
        return SpecSet(self.connector, chosen)

    def check(self) -> None:
        """References resolve and no cycle exists, for the defaults and with each variant."""
        _check_graph(self.specs)
        for variants in self.variants.values():
            for variant in variants:
                _check_graph({**self.specs, variant.model: variant})

    def order(self, models: Iterable[str] | None = None) -> list[str]:
        """Models to run, in the unified order (dependencies first)."""
        wanted = set(models) if models is not None else set(self.specs)
        return [m for m in MODEL_ORDER if m in wanted and m in self.specs]

    def functions_by_model(self) -> dict[str, list[str]]:
        """``{model: [remote functions]}`` including the functions of models it depends on."""
        out = {}
        for model in self.specs:
            needed = set(self.specs[model].functions)
            for dep in self._closure(model):
                needed.update(self.specs[dep].functions)
            out[model] = sorted(needed)
        return out

    def _closure(self, model: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.specs[model].depends_on)
        while todo:
            m = todo.pop()
            if m not in seen and m in self.specs:
                seen.add(m)
                todo.extend(self.specs[m].depends_on)
        return seen


def _check_graph(specs: dict[str, Spec]) -> None:
    for spec in specs.values():
        for dep in spec.depends_on:
            if dep not in specs:
                raise SpecError(f"refers to model {dep!r}, which has no spec in this connector", file=spec.file)
    state: dict[str, int] = {}

    def visit(model: str, trail: list[str]) -> None:
        if state.get(model) == 2:
            return
        if state.get(model) == 1:
            cycle = " -> ".join([*trail[trail.index(model):], model])
            raise SpecError(f"cyclic fan_out/from references: {cycle}", file=specs[model].file)
        state[model] = 1
        for dep in sorted(specs[model].depends_on):
            visit(dep, [*trail, model])
        state[model] = 2

    for model in specs:
        visit(model, [])


def load_specs(directory: Any, connector: str, functions: FunctionSet, *,
               known_calls: Collection[str] | None = None) -> SpecSet:
    """Load every ``*.yaml`` in *directory* (a path or importlib Traversable) as one set;
    *known_calls* as in ``load_spec_text`` (pass the connector's ``ConnectorInfo.known_calls``)."""
    specset = SpecSet(connector, {})
    entries = sorted((e for e in directory.iterdir() if e.name.endswith((".yaml", ".yml"))), key=lambda e: e.name)
    for entry in entries:
        specset.add(load_spec_file(entry, functions, known_calls=known_calls))
    specset.check()
    return specset
