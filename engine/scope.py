"""Scope testing: what an integration's credentials can really read and write.

The engine lists, for every model, the remote functions its mapping spec calls (including the
models it depends on: ``SpecSet.functions_by_model``) and, for every write action, the functions
the connector says it calls (``lmsync_action_requirements``). The connector probes the remote
(``lmsync_scope_test``) and returns a ``ScopeReport``: per model and action OK / DEGRADED /
FORBIDDEN / MISSING, the functions an admin must add and a setup checklist.

The result is cached in ``Integration.availability`` (``{name: {status, ...}}``, actions also
under their Kombo action id) so ``GET /integrations/{id}`` shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.connector import ScopeReport
from engine.errors import ActionNotAvailable
from engine.passthrough import redact_json
from engine.store.base import Integration

__all__ = ["scope_needs", "run_scope_test", "availability_from", "ACTION_IDS", "AVAILABLE_STATES"]

# lmsync action name → the Kombo write-action id shown in GET /integrations/{id}
ACTION_IDS = {
    "upsert_course": "lms_upsert_courses",
    "deactivate_course": "lms_deactivate_course",
    "enroll": "lms_create_course_progression",
    "complete": "lms_complete_course_progression",
}
# states in which a model or action is usable (DEGRADED: some fields are withheld)
AVAILABLE_STATES = ("OK", "DEGRADED")


def scope_needs(engine: Any, connector: str, integration: Integration | None = None) -> dict[str, list[str]]:
    """``{model or action: [remote functions]}`` for *connector* (models first, in sync order);
    with *integration*, for the specs its settings choose."""
    specset = engine.specset_for(integration) if integration is not None else engine.specset(connector)
    by_model = specset.functions_by_model()
    needs = {model: by_model[model] for model in specset.order()}
    for table in engine.pm.hook.lmsync_action_requirements(connector=connector):
        for action, functions in (table or {}).items():
            needs[action] = sorted({*needs.get(action, ()), *functions})
    return needs


def availability_from(report: ScopeReport) -> dict[str, Any]:
    """The ``Integration.availability`` value for *report*."""
    tested = datetime.now(UTC).isoformat()
    out: dict[str, Any] = {}
    for entry in report.entries:
        value = {k: v for k, v in entry.__dict__.items() if k != "name"}
        value["tested_at"] = tested
        out[entry.name] = value
        if entry.kind == "action" and entry.name in ACTION_IDS:
            out[ACTION_IDS[entry.name]] = value
    return out


def run_scope_test(engine: Any, integration: Integration, *, save: bool = True) -> ScopeReport:
    """Probe *integration*'s remote and return the report; with *save*, store it as the
    integration's availability. Raises ``ActionNotAvailable`` if the connector cannot scope-test
    and lets ``TransportError``s (e.g. invalid credentials) propagate. *engine* is a ``SyncEngine``."""
    needs = scope_needs(engine, integration.connector, integration)
    transport = engine.transport(integration)
    try:
        report = engine.pm.hook.lmsync_scope_test(integration=integration, transport=transport, needs=needs)
    finally:
        transport.close()
    if report is None:
        raise ActionNotAvailable(f"the {integration.connector} connector does not offer scope testing")
    clean = redact_json(report.as_dict(), transport.redact)
    report.checklist, report.remote_info = clean["checklist"], clean["remote_info"]
    for entry, data in zip(report.entries, clean["entries"]):
        entry.detail = data["detail"]
    if save:
        integration.availability = availability_from(report)
        engine.store.update_integration(integration)
    return report
