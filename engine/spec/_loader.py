"""Load mapping specs: YAML → schema check → semantic checks → compiled ``Spec``."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from engine.errors import SpecError
from engine.models import MODEL_ORDER, MODELS
from engine.spec._jmes import Expr, FunctionSet, compile_expr, root_fields
from engine.spec._model import Expect, FanOut, FieldMap, Join, Lookup, Pagination, ParamTemplate, Spec, Stream
from engine.spec._yaml import Located, dotted, load_located

__all__ = ["load_spec_text", "load_spec_file", "load_specs", "SpecSet", "spec_schema"]

_DEFAULTS = {"custom_fields": {}, "integration_fields": []}


@functools.cache
def spec_schema() -> dict[str, Any]:
    """The JSON Schema of the mapping language (``schemas/mapping-spec.schema.json``)."""
    return json.loads(resources.files("schemas").joinpath("mapping-spec.schema.json").read_text())


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(spec_schema())


def _schema_error(doc: Located) -> SpecError | None:
    error = best_match(_validator().iter_errors(doc.data))
    if error is None:
        return None
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            hint = f" (expected one of: {', '.join(sorted(allowed))})" if allowed else ""
            return doc.error((*path, extra[0]), f"unknown key {extra[0]!r}{hint}", on_key=True)
    if error.validator == "required":
        return doc.error(path, error.message)
    value = json.dumps(error.instance, default=str)
    if len(value) > 80:
        value = value[:77] + "..."
    return doc.error(path, f"{error.message} (value: {value})" if error.validator != "oneOf" else f"invalid value {value}: {error.message}")


class _Compiler:
    """Turns one validated spec document into compiled objects, locating every error."""

    def __init__(self, doc: Located, functions: FunctionSet) -> None:
        self.doc = doc
        self.functions = functions

    def expr(self, path: tuple[Any, ...], source: Any) -> Expr:
        return compile_expr(source, self.functions, file=self.doc.file, line=self.doc.line(path), field=dotted(path))

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
            return self.expr(path, node[1:])
        if node is None:
            raise self.doc.error(path, "a parameter value cannot be null")
        return node

    def stream(self, path: tuple[Any, ...], node: dict[str, Any]) -> Stream:
        pag = node.get("pagination", {"type": "none"})
        pagination = Pagination(
            type=pag["type"],
            limit=pag.get("limit", 0),
            start=pag.get("start", 0),
            stop=pag.get("stop", "empty_page"),
            total=self.expr((*path, "pagination", "total"), pag["total"]) if "total" in pag else None,
            max_pages=pag.get("max_pages", 100_000),
        )
        fan = node.get("fan_out")
        fan_out = None
        if fan:
            fan_out = FanOut(
                over=fan.get("over"),
                stream=self.stream((*path, "fan_out", "stream"), fan["stream"]) if "stream" in fan else None,
                keep=self.expr((*path, "fan_out", "keep"), fan["keep"]) if "keep" in fan else None,
                as_=fan.get("as"),
                concurrency=fan.get("concurrency", 4),
            )
        if node.get("from") and (fan or "params" in node or "pagination" in node):
            raise self.doc.error((*path, "from"), "a stream with `from` reuses records: it takes no params, pagination or fan_out")
        records = self.expr((*path, "records"), node.get("records", "@"))
        shape = node.get("expect", {})
        return Stream(
            where=f"{self.doc.file}:{self.doc.line(path)} {dotted(path)}",
            call=node.get("call"),
            from_=node.get("from"),
            params=self.params((*path, "params"), node.get("params", {})),
            records=records,
            pagination=pagination,
            fan_out=fan_out,
            filter=self.expr((*path, "filter"), node["filter"]) if "filter" in node else None,
            expect=Expect(records, "list", shape.get("records") == "optional", tuple(shape.get("keys", ()))),
        )

    def enrichment(self, path: tuple[Any, ...], node: dict[str, Any]) -> Join | Lookup:
        name = node["name"]
        if "join" in node:
            j = node["join"]
            jp = (*path, "join")
            return Join(
                name=name,
                stream=self.stream((*jp, "stream"), j["stream"]),
                key=self.expr((*jp, "key"), j["key"]),
                match=self.expr((*jp, "match"), j["match"]),
                keep=self.expr((*jp, "keep"), j["keep"]) if "keep" in j else None,
            )
        lk = node["lookup"]
        lp = (*path, "lookup")
        result, shape = self.expr((*lp, "result"), lk.get("result", "@")), lk.get("expect", {})
        return Lookup(
            name=name,
            call=lk["call"],
            params=self.params((*lp, "params"), lk.get("params", {})),
            when=self.expr((*lp, "when"), lk["when"]) if "when" in lk else None,
            result=result,
            ignore_errors=frozenset(lk.get("ignore_errors", ())),
            concurrency=lk.get("concurrency", 4),
            expect=Expect(result, "value", shape.get("result") == "optional", tuple(shape.get("keys", ()))),
        )

    def fields(self, model: str, node: dict[str, Any]) -> list[FieldMap]:
        info = MODELS[model]
        expected = set(info.fields)
        out = []
        for name, value in node.items():
            path = ("fields", name)
            if name not in expected:
                raise self.doc.error(path, f"{model} has no field {name!r} (fields: {', '.join(info.fields)})")
            ref = value.get("ref") if isinstance(value, dict) else None
            source = value["expr"] if isinstance(value, dict) else value
            want = info.refs.get(name)
            if want and ref != want:
                raise self.doc.error(path, f"{name} holds an lmsync id: write it as {{expr: <remote id>, ref: {want}}}")
            if ref and not want:
                raise self.doc.error(path, f"{name} is not an id field; `ref` is not allowed here")
            out.append(FieldMap(name, self.expr(path if not ref else (*path, "expr"), source), ref))
        missing = [f for f in info.fields if f not in node and f not in _DEFAULTS]
        if missing:
            raise self.doc.error(("fields",), f"unmapped field(s) of {model}: {', '.join(missing)} (map unsupported ones to \"`null`\")")
        return out


def load_spec_text(text: str, file: str, functions: FunctionSet) -> Spec:
    """Load one spec from YAML *text*; *file* is used in error messages."""
    doc = load_located(text, file)
    if not isinstance(doc.data, dict):
        raise SpecError(f"a mapping spec must be a YAML mapping, got {type(doc.data).__name__}", file=file, line=1)
    try:
        error = _schema_error(doc)
    except RecursionError:
        raise SpecError("the document nests too deeply", file=file) from None
    if error:
        raise error
    data = doc.data
    c = _Compiler(doc, functions)
    model = data["model"]
    spec = Spec(
        model=model,
        file=file,
        description=data.get("description", ""),
        source=c.stream(("source",), data["source"]),
        enrich=[c.enrichment(("enrich", i), e) for i, e in enumerate(data.get("enrich", []))],
        remote_id=c.expr(("remote_id",), data["remote_id"]),
        fields=c.fields(model, data["fields"]),
        requires=list(data.get("requires", [])),
        delta_params=c.params(("delta", "params"), data["delta"]["params"]) if data.get("delta", {}).get("params") else None,
        defaults={k: v for k, v in _DEFAULTS.items() if k not in data["fields"] and k in MODELS[model].fields},
    )
    names = [e.name for e in spec.enrich]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise doc.error(("enrich", i, "name"), f"enrichment name {name!r} is used twice")
    spec.enrich = [_with_feeds(step, spec.fields) for step in spec.enrich]
    return spec


def _with_feeds(step: Join | Lookup, fields: list[FieldMap]) -> Join | Lookup:
    """A look-up knowing which unified fields read its result (kept on an ignored error)."""
    if not isinstance(step, Lookup):
        return step
    return dataclasses.replace(step, feeds=frozenset(f.name for f in fields if step.name in root_fields(f.expr.source)))


def load_spec_file(path: Any, functions: FunctionSet) -> Spec:
    """Load one spec file (a path, or an importlib ``Traversable``)."""
    try:
        text = (path if hasattr(path, "read_text") else Path(path)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", file=str(path)) from None
    return load_spec_text(text, str(path), functions)


@dataclass
class SpecSet:
    """The specs of one connector, checked as a whole (references resolve, no cycles)."""

    connector: str
    specs: dict[str, Spec]

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


def load_specs(directory: Any, connector: str, functions: FunctionSet) -> SpecSet:
    """Load every ``*.yaml`` in *directory* (a path or importlib Traversable) as one set."""
    specs: dict[str, Spec] = {}
    entries = sorted((e for e in directory.iterdir() if e.name.endswith((".yaml", ".yml"))), key=lambda e: e.name)
    for entry in entries:
        spec = load_spec_file(entry, functions)
        if spec.model in specs:
            raise SpecError(f"a second spec for model {spec.model!r} (the first is {specs[spec.model].file})", file=str(entry), line=1)
        specs[spec.model] = spec
    _check_graph(specs)
    return SpecSet(connector, specs)
