"""DDL of the store, generated once per dialect from ``engine.models``.

One table ``rec_<model>`` per model with the bookkeeping columns, the JSON of the unified
fields (``data``), the raw JSON (``remote_data``) and one indexed column per ref field.
Migrations are numbered; ``schema_version`` holds the applied numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.models import MODELS

__all__ = ["Types", "SCHEMA_VERSION", "record_table", "ref_columns", "migrations"]

SCHEMA_VERSION = 12


@dataclass(frozen=True)
class Types:
    """Column types of one dialect."""

    key: str  # ids and other ASCII keys compared bytewise
    text: str
    json: str
    ts: str
    boolean: str
    # how ALTER TABLE adds a column: PostgreSQL can say IF NOT EXISTS, SQLite cannot (there the
    # migration's own transaction and its schema_version row make it run once)
    add_column: str = "ADD COLUMN"


def record_table(model: str) -> str:
    """The table holding *model*'s records (the model name is validated)."""
    if model not in MODELS:
        raise KeyError(model)
    return f"rec_{model}"


def ref_columns(model: str) -> tuple[str, ...]:
    """The indexed ref columns of *model*, in a fixed order."""
    return tuple(MODELS[model].refs)


def _record_ddl(model: str, t: Types) -> list[str]:
    table = record_table(model)
    refs = "".join(f"    {col} {t.key},\n" for col in ref_columns(model))
    stmts = [
        f"""CREATE TABLE IF NOT EXISTS {table} (
    integration_id {t.key} NOT NULL,
    id {t.key} NOT NULL,
    remote_id {t.key} NOT NULL,
    data {t.json} NOT NULL,
    remote_data {t.json},
    content_hash {t.text} NOT NULL,
    raw_hash {t.text} NOT NULL,
    changed_at {t.ts} NOT NULL,
    remote_deleted_at {t.ts},
    created_at {t.ts} NOT NULL,
{refs}    PRIMARY KEY (integration_id, id)
)""",
        f"CREATE INDEX IF NOT EXISTS {table}_remote ON {table} (integration_id, remote_id)",
        f"CREATE INDEX IF NOT EXISTS {table}_changed ON {table} (integration_id, changed_at)",
    ]
    stmts += [
        f"CREATE INDEX IF NOT EXISTS {table}_{col} ON {table} (integration_id, {col})"
        for col in ref_columns(model)
    ]
    return stmts


def _v1(t: Types) -> list[str]:
    stmts = [
        f"""CREATE TABLE IF NOT EXISTS integrations (
    id {t.key} PRIMARY KEY,
    connector {t.text} NOT NULL,
    base_url {t.text} NOT NULL,
    credentials {t.text} NOT NULL,
    settings {t.json} NOT NULL,
    enabled {t.boolean} NOT NULL,
    created_at {t.ts} NOT NULL,
    availability {t.json} NOT NULL
)""",
        f"""CREATE TABLE IF NOT EXISTS api_keys (
    key_id {t.key} PRIMARY KEY,
    key_hash {t.key} NOT NULL UNIQUE,
    name {t.text} NOT NULL,
    integration_ids {t.json},
    created_at {t.ts} NOT NULL
)""",
        f"""CREATE TABLE IF NOT EXISTS sync_runs (
    id {t.key} PRIMARY KEY,
    integration_id {t.key} NOT NULL,
    kind {t.text} NOT NULL,
    status {t.text} NOT NULL,
    started_at {t.ts} NOT NULL,
    finished_at {t.ts},
    stats {t.json} NOT NULL,
    warnings {t.json} NOT NULL,
    error {t.text},
    heartbeat_at {t.ts}
)""",
        "CREATE INDEX IF NOT EXISTS sync_runs_started ON sync_runs (integration_id, started_at)",
        # The per-integration sync lock lives here, so it holds across processes.
        "CREATE UNIQUE INDEX IF NOT EXISTS sync_runs_one_running ON sync_runs (integration_id)"
        " WHERE status = 'running'",
    ]
    for model in MODELS:
        stmts += _record_ddl(model, t)
    return stmts


def _v2(t: Types) -> list[str]:
    """Asynchronous write actions (bulk course upserts) and their per-item results."""
    return [
        f"""CREATE TABLE IF NOT EXISTS action_tasks (
    id {t.key} PRIMARY KEY,
    integration_id {t.key} NOT NULL,
    kind {t.text} NOT NULL,
    status {t.text} NOT NULL,
    created_at {t.ts} NOT NULL,
    completed_at {t.ts},
    results {t.json} NOT NULL,
    error {t.json},
    warnings {t.json} NOT NULL
)""",
        "CREATE INDEX IF NOT EXISTS action_tasks_integration ON action_tasks (integration_id, created_at)",
    ]


def _v3(t: Types) -> list[str]:
    """Webhook endpoints (secret encrypted like credentials) and the delivery log."""
    return [
        f"""CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id {t.key} PRIMARY KEY,
    url {t.text} NOT NULL,
    secret {t.text} NOT NULL,
    events {t.json} NOT NULL,
    enabled {t.boolean} NOT NULL,
    created_at {t.ts} NOT NULL
)""",
        f"""CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id {t.key} PRIMARY KEY,
    endpoint_id {t.key} NOT NULL,
    event_id {t.key} NOT NULL,
    event_type {t.text} NOT NULL,
    integration_id {t.key} NOT NULL,
    status {t.text} NOT NULL,
    attempts INTEGER NOT NULL,
    created_at {t.ts} NOT NULL,
    last_attempt_at {t.ts},
    next_attempt_at {t.ts},
    response_status INTEGER,
    error {t.text},
    body {t.text} NOT NULL
)""",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_created ON webhook_deliveries (created_at)",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_status ON webhook_deliveries (status, next_attempt_at)",
    ]


def _v4(t: Types) -> list[str]:
    """A token per (integration, model), replaced in the transaction of every write to its rows."""
    return [
        f"""CREATE TABLE IF NOT EXISTS model_versions (
    integration_id {t.key} NOT NULL,
    model {t.key} NOT NULL,
    token {t.key} NOT NULL,
    PRIMARY KEY (integration_id, model)
)""",
    ]


def _v5(t: Types) -> list[str]:
    """Changes a run's guard held back (``engine.guard``): deletions and status regressions."""
    return [
        f"""CREATE TABLE IF NOT EXISTS held_changes (
    run_id {t.key} NOT NULL,
    integration_id {t.key} NOT NULL,
    model {t.key} NOT NULL,
    id {t.key} NOT NULL,
    kind {t.key} NOT NULL,
    record {t.text},
    PRIMARY KEY (run_id, model, id)
)""",
        "CREATE INDEX IF NOT EXISTS held_changes_integration ON held_changes (integration_id, run_id)",
    ]


def _v6(t: Types) -> list[str]:
    """API keys may expire: ``expires_at`` (null: never); keys made before stay valid for ever."""
    return [f"ALTER TABLE api_keys {t.add_column} expires_at {t.ts}"]


def _v7(t: Types) -> list[str]:
    """The Connect flow (``engine.connect``): link tokens (only their SHA-256 hash is stored;
    ``kind`` create, relink or exchange) and each connected integration's end user and setup status."""
    return [
        f"""CREATE TABLE IF NOT EXISTS connect_links (
    id {t.key} PRIMARY KEY,
    token_hash {t.key} NOT NULL UNIQUE,
    kind {t.key} NOT NULL,
    integration_id {t.key},
    end_user_email {t.text},
    end_user_organization_name {t.text},
    end_user_origin_id {t.text},
    tool {t.text},
    language {t.text},
    link_type {t.text} NOT NULL,
    expires_at {t.ts} NOT NULL,
    used_at {t.ts},
    created_at {t.ts} NOT NULL
)""",
        "CREATE INDEX IF NOT EXISTS connect_links_integration ON connect_links (integration_id)",
        f"""CREATE TABLE IF NOT EXISTS integration_setup (
    integration_id {t.key} PRIMARY KEY,
    setup_status {t.key} NOT NULL,
    end_user_email {t.text},
    end_user_organization_name {t.text},
    end_user_origin_id {t.text},
    updated_at {t.ts} NOT NULL
)""",
    ]


def _v8(t: Types) -> list[str]:
    """Integration fields (``engine.store._fields``): the raw fields discovered in each model's
    synced ``remote_data``, whether each is passed through, and the model version last scanned."""
    return [
        f"""CREATE TABLE IF NOT EXISTS integration_fields (
    integration_id {t.key} NOT NULL,
    id {t.key} NOT NULL,
    model {t.key} NOT NULL,
    field_key {t.text} NOT NULL,
    field_type {t.key} NOT NULL,
    label {t.text},
    passthrough {t.boolean} NOT NULL,
    PRIMARY KEY (integration_id, id)
)""",
        "CREATE INDEX IF NOT EXISTS integration_fields_model ON integration_fields (integration_id, model)",
        f"""CREATE TABLE IF NOT EXISTS integration_field_scans (
    integration_id {t.key} NOT NULL,
    model {t.key} NOT NULL,
    token {t.key},
    PRIMARY KEY (integration_id, model)
)""",
    ]


def _v9(t: Types) -> list[str]:
    """Scope configs (``engine.scope_config``, ``engine.store._scope_configs``) and which one each
    integration is bound to (none: the built-in ``default``)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS scope_configs (
    id {t.key} PRIMARY KEY,
    name {t.text} NOT NULL UNIQUE,
    config {t.json} NOT NULL,
    created_at {t.ts} NOT NULL
)""",
        f"""CREATE TABLE IF NOT EXISTS integration_scope_configs (
    integration_id {t.key} PRIMARY KEY,
    scope_config_id {t.key} NOT NULL
)""",
    ]


def _v10(t: Types) -> list[str]:
    """Custom field mappings (``engine.store._custom_fields``): per integration, which integration
    field a scope config's custom field key is read from."""
    return [
        f"""CREATE TABLE IF NOT EXISTS custom_field_mappings (
    integration_id {t.key} NOT NULL,
    custom_field_id {t.key} NOT NULL,
    model {t.key} NOT NULL,
    field_key {t.text} NOT NULL,
    integration_field_id {t.key},
    PRIMARY KEY (integration_id, custom_field_id)
)""",
    ]


def _v11(t: Types) -> list[str]:
    """Scope-config opt-outs (``engine.scope_config``, ``engine.store._scope_configs``): the
    OPTIONAL items each integration's customer declined (``item``: ``models.M``, ``fields.M.F``,
    ``actions.A``), and when its synced data expired because its effective scope narrowed
    (``data_expired_at`` the earliest narrowing, ``narrowed_at`` the latest; the row goes with
    the next successful FULL sync)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS integration_opt_outs (
    integration_id {t.key} NOT NULL,
    item {t.key} NOT NULL,
    created_at {t.ts} NOT NULL,
    PRIMARY KEY (integration_id, item)
)""",
        f"""CREATE TABLE IF NOT EXISTS integration_data_expiry (
    integration_id {t.key} PRIMARY KEY,
    data_expired_at {t.ts} NOT NULL,
    narrowed_at {t.ts} NOT NULL
)""",
    ]


def _v12(t: Types) -> list[str]:
    """A Connect link may name the scope config its integration gets (``engine.connect``:
    ``scope_config_id``, null: the integration keeps or gets the built-in ``default``); links made
    before have none."""
    return [f"ALTER TABLE connect_links {t.add_column} scope_config_id {t.key}"]


def migrations(t: Types) -> list[tuple[int, list[str]]]:
    """``[(version, statements)]`` in order. Each migration runs in one transaction with its
    ``schema_version`` row, so it is applied once; the ``CREATE`` statements are idempotent too."""
    return [(1, _v1(t)), (2, _v2(t)), (3, _v3(t)), (4, _v4(t)), (5, _v5(t)), (6, _v6(t)), (7, _v7(t)),
            (8, _v8(t)), (9, _v9(t)), (10, _v10(t)), (11, _v11(t)),
            (12, _v12(t))]
