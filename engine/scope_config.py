"""Scope configs: what a sync of an integration reads and stores, and what the API serves.

A scope config is named and stored (``engine.store._scope_configs``); each integration is bound
to one, and the built-in ``default`` (everything enabled, ``remote_data`` stored, every write
action allowed) applies until another is bound. Its JSON form (what the store keeps)::

    {"models":  {"skills": "DISABLED"},             # model -> ENABLED | DISABLED | OPTIONAL
     "fields":  {"users.work_email": "DISABLED"},   # model.field -> ENABLED | DISABLED | OPTIONAL
     "actions": {"enroll": "DISABLED"},             # action -> ENABLED | DISABLED | OPTIONAL
     "store_remote_data": false,
     "custom_fields": {"users": [{"key": "shirt_size", "label": "Shirt size"}]}}

Anything not named is ENABLED. OPTIONAL is Kombo's "the end user may opt out": it behaves as
ENABLED until the customer's admin unticks it on the Connect page (``engine.api._connect_page``)
or an operator opts it out (``set_opt_outs`` of the store); the integration's *effective* config
is its bound config minus its opt-outs (keys ``models.M``, ``fields.M.F``, ``actions.A``, as in
the JSON form), and ``scope_config_for`` is the one place every caller gets it from. An opted-out
item behaves exactly as DISABLED (and is still shown as OPTIONAL, ``opted_out_by_customer``).
Only OPTIONAL items can be opted out; an opt-out of an item the bound config no longer lists as
OPTIONAL is kept but has no effect. A disabled model is not read (no calls) and its stored rows
are removed at the next sync; a disabled field is not mapped (stored and served as ``null``)
and the source keys its expression reads are left out of ``remote_data``. Only fields whose unified schema allows ``null`` can be disabled or opted out.

When an integration's effective config *narrows* (a model or field that was read is not, or
``remote_data`` is no longer stored; write actions hold no data), the store sets its
``data_expired_at`` (the earliest narrowing is kept); the next successful FULL sync of every
model, which removes what is no longer covered, clears it (``narrows``).

``custom_fields`` declares the API client's own keys per model (``CUSTOM_FIELD_MODELS``); each
integration maps a key to one of its integration fields (``engine.api._routes_custom_fields``) and
read endpoints answer ``custom_fields: {key: value}``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from engine.errors import LmsyncError
from engine.models import MODELS, get_model

__all__ = [
    "ScopeConfig",
    "ScopeConfigError",
    "DEFAULT_ID",
    "SETTINGS",
    "ACTION_NAMES",
    "CUSTOM_FIELD_MODELS",
    "CustomFieldDecl",
    "parse_config",
    "default_config",
    "scope_config_for",
    "purge_disabled",
    "parse_opt_outs",
    "narrows",
]

DEFAULT_ID = "default"
SETTINGS = ("ENABLED", "DISABLED", "OPTIONAL")
#: lmsync write-action name -> Kombo action id (the same table as ``engine.scope.ACTION_IDS``;
#: kept here so this module imports no store code; a test checks they agree)
ACTION_NAMES: dict[str, str] = {
    "upsert_course": "lms_upsert_courses",
    "deactivate_course": "lms_deactivate_course",
    "enroll": "lms_create_course_progression",
    "complete": "lms_complete_course_progression",
}
_BY_KOMBO_ID = {v: k for k, v in ACTION_NAMES.items()}
_KEYS = ("models", "fields", "actions", "store_remote_data", "custom_fields")
#: models whose read results carry ``custom_fields`` (the same as ``engine.api._routes_fields.FIELD_MODELS``)
CUSTOM_FIELD_MODELS = ("users", "skills", "courses")
_MAX_KEY = 100


@dataclass(frozen=True)
class CustomFieldDecl:
    """One custom field key a scope config declares for a model."""

    model: str
    key: str
    label: str | None = None


class ScopeConfigError(LmsyncError):
    """A scope config is invalid; the message names the key and the value."""


@dataclass(frozen=True)
class ScopeConfig:
    """One scope config. ``models``/``fields``/``actions`` hold only the settings that are not
    ENABLED-by-omission; use the ``*_setting`` methods to read them."""

    id: str
    name: str
    models: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # "model.field" -> setting
    actions: dict[str, str] = field(default_factory=dict)
    store_remote_data: bool = True
    created_at: datetime | None = None
    custom_fields: tuple[CustomFieldDecl, ...] = ()
    #: the integration's opt-outs that apply (OPTIONAL items only): "models.M", "fields.M.F", "actions.A"
    opted_out: frozenset[str] = frozenset()

    def model_setting(self, model: str) -> str:
        """ENABLED, DISABLED or OPTIONAL for *model* (as configured; opt-outs do not change it)."""
        return self.models.get(model, "ENABLED")

    def field_setting(self, model: str, name: str) -> str:
        """The setting of ``model.name`` (DISABLED when its model is disabled)."""
        if self.model_setting(model) == "DISABLED":
            return "DISABLED"
        return self.fields.get(f"{model}.{name}", "ENABLED")

    def action_setting(self, action: str) -> str:
        """The setting of write action *action* (lmsync name or Kombo id)."""
        return self.actions.get(_BY_KOMBO_ID.get(action, action), "ENABLED")

    def is_opted_out(self, kind: str, name: str) -> bool:
        """Whether the customer opted out of *name* (a model, ``model.field`` or action, by *kind*
        ``models``/``fields``/``actions``)."""
        if kind == "actions":
            name = _BY_KOMBO_ID.get(name, name)
        return f"{kind}.{name}" in self.opted_out

    def model_enabled(self, model: str) -> bool:
        """Whether *model* is read, stored and served."""
        return self.model_setting(model) != "DISABLED" and not self.is_opted_out("models", model)

    def field_enabled(self, model: str, name: str) -> bool:
        """Whether ``model.name`` is mapped, stored and served."""
        return (self.model_enabled(model) and self.field_setting(model, name) != "DISABLED"
                and not self.is_opted_out("fields", f"{model}.{name}"))

    def action_enabled(self, action: str) -> bool:
        """Whether write action *action* may run."""
        return self.action_setting(action) != "DISABLED" and not self.is_opted_out("actions", action)

    def disabled_fields(self, model: str) -> frozenset[str]:
        """The unified fields of *model* that are not mapped (stored and served as null)."""
        return frozenset(k.split(".", 1)[1] for k, v in self.fields.items()
                         if k.split(".", 1)[0] == model and (v == "DISABLED" or f"fields.{k}" in self.opted_out))

    def optional_items(self) -> list[str]:
        """The keys of the OPTIONAL items that can be opted out (``models.M``, ``fields.M.F``,
        ``actions.A``), in a stable order; fields of a DISABLED model are left out."""
        out = [f"models.{m}" for m in MODELS if self.model_setting(m) == "OPTIONAL"]
        out += [f"fields.{k}" for k, v in sorted(self.fields.items())
                if v == "OPTIONAL" and self.model_setting(k.split(".", 1)[0]) != "DISABLED"
                and k.split(".", 1)[1] in _nullable(k.split(".", 1)[0])]
        out += [f"actions.{a}" for a in ACTION_NAMES if self.action_setting(a) == "OPTIONAL"]
        return out

    def with_opt_outs(self, keys: Iterable[str]) -> "ScopeConfig":
        """This config as an integration with opt-outs *keys* has it (keys that are not OPTIONAL
        items of this config are ignored)."""
        applicable = set(self.optional_items())
        return replace(self, opted_out=frozenset(k for k in keys if k in applicable))

    def as_json(self) -> dict[str, Any]:
        """The stored JSON form (see the module docstring)."""
        out: dict[str, Any] = {"models": dict(self.models), "fields": dict(self.fields),
                               "actions": dict(self.actions), "store_remote_data": self.store_remote_data}
        if self.custom_fields:  # left out when empty: configs stored before it read back the same
            grouped: dict[str, list[dict[str, Any]]] = {}
            for c in self.custom_fields:
                grouped.setdefault(c.model, []).append({"key": c.key, **({"label": c.label} if c.label else {})})
            out["custom_fields"] = grouped
        return out

    def summary(self) -> dict[str, Any]:
        """``{id, name, ...settings}`` for listings."""
        return {"id": self.id, "name": self.name, **self.as_json(),
                "created_at": self.created_at.isoformat() if self.created_at else None}


def default_config() -> ScopeConfig:
    """The built-in config every integration has until another is bound."""
    return ScopeConfig(id=DEFAULT_ID, name=DEFAULT_ID)


@lru_cache(maxsize=None)
def _nullable(model: str) -> frozenset[str]:
    """The unified fields of *model* whose mapped schema allows null (those that can be disabled)."""
    from schemas._loader import load_schema

    props = load_schema(get_model(model).schema_file)["$defs"]["mapped"]["properties"]
    out = set()
    for name, prop in props.items():
        kind = prop.get("type")
        if kind == "null" or (isinstance(kind, list) and "null" in kind):
            out.add(name)
    return frozenset(out)


def _guess(value: str, options: list[str]) -> str:
    found = difflib.get_close_matches(value, options, n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


def _setting(where: str, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in SETTINGS:
        raise ScopeConfigError(f"{where}: {value!r} is not a setting; expected one of {', '.join(SETTINGS)}")
    return value.upper()


def _check_model(where: str, model: Any) -> str:
    if model not in MODELS:
        raise ScopeConfigError(f"{where}: unknown model {model!r}{_guess(str(model), list(MODELS))} "
                               f"(models: {', '.join(MODELS)})")
    return model


def _mapping(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key, {})
    if not isinstance(value, dict):
        raise ScopeConfigError(f"{key}: expected an object, got {type(value).__name__}")
    return value


def _custom_fields(config: dict[str, Any]) -> tuple[CustomFieldDecl, ...]:
    out: list[CustomFieldDecl] = []
    for model, entries in _mapping(config, "custom_fields").items():
        if model not in CUSTOM_FIELD_MODELS:
            raise ScopeConfigError(f"custom_fields.{model}: unknown model{_guess(str(model), list(CUSTOM_FIELD_MODELS))} "
                                   f"(models with custom fields: {', '.join(CUSTOM_FIELD_MODELS)})")
        if not isinstance(entries, list):
            raise ScopeConfigError(f"custom_fields.{model}: expected a list of {{key, label?}}, got {type(entries).__name__}")
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            where = f"custom_fields.{model}[{i}]"
            if not isinstance(entry, dict) or set(entry) - {"key", "label"}:
                raise ScopeConfigError(f"{where}: expected an object with 'key' and an optional 'label', got {entry!r}")
            key, label = entry.get("key"), entry.get("label")
            if not isinstance(key, str) or not key.strip() or len(key) > _MAX_KEY or key != key.strip():
                raise ScopeConfigError(f"{where}.key: {key!r} must be 1 to {_MAX_KEY} characters without surrounding spaces")
            if key in seen:
                raise ScopeConfigError(f"{where}.key: {key!r} is declared twice for {model}")
            if label is not None and not isinstance(label, str):
                raise ScopeConfigError(f"{where}.label: expected a string or null, got {label!r}")
            seen.add(key)
            out.append(CustomFieldDecl(model, key, label or None))
    return tuple(out)


def parse_config(config_id: str, name: str, config: Any, created_at: datetime | None = None) -> ScopeConfig:
    """A validated ``ScopeConfig`` from its JSON form; ``ScopeConfigError`` names the bad spot."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ScopeConfigError(f"name: {name!r} must be 1 to 100 characters")
    if not isinstance(config, dict):
        raise ScopeConfigError(f"scope config {name!r}: expected an object, got {type(config).__name__}")
    unknown = [k for k in config if k not in _KEYS]
    if unknown:
        raise ScopeConfigError(f"scope config {name!r}: unknown key {unknown[0]!r}{_guess(unknown[0], list(_KEYS))} "
                               f"(keys: {', '.join(_KEYS)})")
    models = {_check_model(f"models.{m}", m): _setting(f"models.{m}", v) for m, v in _mapping(config, "models").items()}
    fields: dict[str, str] = {}
    for key, value in _mapping(config, "fields").items():
        model, _, fname = str(key).partition(".")
        _check_model(f"fields.{key}", model)
        known = list(MODELS[model].fields)
        if fname not in known:
            raise ScopeConfigError(f"fields.{key}: {model} has no field {fname!r}{_guess(fname, known)} "
                                   f"(fields: {', '.join(known)})")
        setting = _setting(f"fields.{key}", value)
        if setting == "DISABLED" and fname not in _nullable(model):
            raise ScopeConfigError(f"fields.{key}: cannot be DISABLED, the {model} model requires a value "
                                   f"(fields that can: {', '.join(sorted(_nullable(model) & set(known)))})")
        fields[f"{model}.{fname}"] = setting
    actions: dict[str, str] = {}
    for key, value in _mapping(config, "actions").items():
        action = _BY_KOMBO_ID.get(key, key)
        if action not in ACTION_NAMES:
            options = [*ACTION_NAMES, *_BY_KOMBO_ID]
            raise ScopeConfigError(f"actions.{key}: unknown action{_guess(str(key), options)} "
                                   f"(actions: {', '.join(ACTION_NAMES)})")
        actions[action] = _setting(f"actions.{key}", value)
    store_raw = config.get("store_remote_data", True)
    if not isinstance(store_raw, bool):
        raise ScopeConfigError(f"store_remote_data: expected true or false, got {store_raw!r}")
    return ScopeConfig(id=config_id, name=name.strip(), models=models, fields=fields, actions=actions,
                       store_remote_data=store_raw, created_at=created_at, custom_fields=_custom_fields(config))


def scope_config_for(store: Any, integration_id: str) -> ScopeConfig:
    """The *effective* config of *integration_id*: the one it is bound to minus its customer's
    opt-outs (the default on a store without scope configs). Every sync, API and action check
    reads it through here."""
    lookup = getattr(store, "scope_config_of", None)
    if lookup is None:
        return default_config()
    bound = lookup(integration_id)
    opt_outs = getattr(store, "opt_outs_of", None)
    return bound.with_opt_outs(opt_outs(integration_id)) if opt_outs is not None else bound


def parse_opt_outs(scope: ScopeConfig, items: Iterable[Any]) -> frozenset[str]:
    """Validated opt-out keys for an integration bound to *scope*: each must name an OPTIONAL
    model (``models.M``), field (``fields.M.F``) or action (``actions.A``, lmsync name or Kombo
    id) of *scope*; ``ScopeConfigError`` names the first that does not."""
    out: set[str] = set()
    ordered = scope.optional_items()
    optional = set(ordered)
    for item in items:
        kind, _, name = str(item).partition(".")
        if kind == "actions":
            name = _BY_KOMBO_ID.get(name, name)
        key = f"{kind}.{name}"
        if key in optional:
            out.add(key)
            continue
        raise ScopeConfigError(f"opt-out {item!r}: {_why_not(scope, kind, name)} (OPTIONAL items of scope config "
                               f"{scope.name!r}: {', '.join(ordered) or 'none'})")
    return frozenset(out)


def _why_not(scope: ScopeConfig, kind: str, name: str) -> str:
    """Why ``kind.name`` cannot be opted out (it is not an OPTIONAL item of *scope*)."""
    model, _, fname = name.partition(".")
    if kind == "models" and name in MODELS:
        setting = scope.model_setting(name)
    elif kind == "fields" and model in MODELS and fname in MODELS[model].fields:
        setting = scope.field_setting(model, fname)
        if setting == "OPTIONAL":
            return f"the {model} model requires a value for {fname}, so it cannot be opted out"
    elif kind == "actions" and name in ACTION_NAMES:
        setting = scope.action_setting(name)
    else:
        return "not a model, field or action; expected models.MODEL, fields.MODEL.FIELD or actions.ACTION"
    return f"scope config {scope.name!r} has it {setting}; only OPTIONAL items can be opted out"


def _coverage(scope: ScopeConfig) -> set[str]:
    """What synced data *scope* keeps: enabled models, their enabled fields and ``remote_data``."""
    out = {"remote_data"} if scope.store_remote_data else set()
    for model, spec in MODELS.items():
        if scope.model_enabled(model):
            out.add(f"models.{model}")
            out.update(f"fields.{model}.{f}" for f in spec.fields if scope.field_enabled(model, f))
    return out


def narrows(before: ScopeConfig, after: ScopeConfig) -> bool:
    """Whether going from effective config *before* to *after* leaves out synced data *before*
    kept (a model, a field, ``remote_data``): the data synced under *before* then expired.
    Write actions hold no synced data and do not count."""
    return bool(_coverage(before) - _coverage(after))


def purge_disabled(store: Any, integration_id: str, scope: ScopeConfig, run: Any) -> None:
    """Remove the stored rows of every model *scope* disables (narrowing), noting each in
    ``run.stats`` as ``{"scope_config": "DISABLED", "deleted": n, ...}``."""
    for model in MODELS:
        if scope.model_enabled(model):
            continue
        gone = store.purge_model(integration_id, model)
        run.stats[model] = {"created": 0, "updated": 0, "unchanged": 0, "deleted": gone, "invalid": 0,
                            "calls": 0, "retries": 0, "seconds": 0.0, "scope_config": "DISABLED"}
        if gone:
            why = "was opted out by the customer" if scope.is_opted_out("models", model) else "is disabled"
            run.warnings.append(f"scope config {scope.name!r}: {model} {why}; its {gone:,} stored records were removed")
