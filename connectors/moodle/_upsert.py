"""Course upsert: ``origin_id`` is the stable key, kept in the Moodle course's ``idnumber``.

Look up with ``core_course_get_courses_by_field field=idnumber``; create when absent (category
from the setting ``course_category_id``, short name derived from ``origin_id``), otherwise update
title, summary and language. Races between two writers of one ``origin_id`` (two requests, two
processes) end in one course: Moodle refuses the second create with ``shortnametaken`` or
``courseidnumbertaken``, and the loser re-reads and updates. Within one process, writers of one
``origin_id`` are serialised anyway (fewer wasted calls).

``course_url`` reaches learners as a link in the course summary. Moodle has no place for
``thumbnail_url`` or ``duration`` through web services: they produce warnings. ``languages``
become the course's forced language (the first one, ``de-DE`` → ``de``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from connectors.moodle._moodle_ids import raise_warnings, setting
from engine.action_inputs import course_text, origin_lock
from engine.errors import ActionInputInvalid, RemoteInputInvalid
from engine.store.base import Integration
from engine.transport import Transport

__all__ = ["upsert_course", "course_fields", "shortnames"]

_IDNUMBER_MAX = 100  # mdl_course.idnumber is varchar(100)
_FULLNAME_MAX = 254
_SHORTNAME_MAX = 255
_TAKEN = ("shortnametaken", "courseidnumbertaken")

def course_fields(course: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The Moodle course fields for an upsert item's ``course`` (warnings for what is dropped)."""
    title, url, description = course_text(course, _FULLNAME_MAX, "Moodle", warnings)
    fields: dict[str, Any] = {"fullname": title, "summary": description, "summaryformat": 1}
    for key in ("thumbnail_url", "duration"):
        if course.get(key) is not None:
            warnings.append(f"{key} was not stored: Moodle courses have no such field through web services")
    languages = [lang for lang in course.get("languages") or [] if lang]
    if languages:
        fields["lang"] = languages[0].split("-")[0]
        if len(languages) > 1:
            warnings.append(f"Moodle courses have one language: {fields['lang']!r} was used, {', '.join(languages[1:])} ignored")
    return fields


def shortnames(origin_id: str) -> tuple[str, str]:
    """The short name to try first (the origin id) and the fallback when another course holds it."""
    digest = hashlib.blake2b(origin_id.encode(), digest_size=4).hexdigest()
    return origin_id[:_SHORTNAME_MAX], f"{origin_id[:_SHORTNAME_MAX - 12]} [{digest}]"


def _lenient_lang(send: Callable[[dict[str, Any]], Any], fields: dict[str, Any], warnings: list[str]) -> Any:
    """Send *fields*; if Moodle rejects the language (pack not installed), send them without it."""
    try:
        return send(fields)
    except RemoteInputInvalid as exc:
        if exc.code != "errorinvalidparam" or "lang" not in fields:
            raise
        warnings.append(f"Moodle rejected the language {fields['lang']!r} (its language pack is not installed?); "
                        "the course uses the site's default language")
        return send({k: v for k, v in fields.items() if k != "lang"})


def _find(transport: Transport, origin_id: str) -> int | None:
    result = transport.call("core_course_get_courses_by_field", {"field": "idnumber", "value": origin_id})
    courses = result.get("courses") if isinstance(result, dict) else None
    return int(courses[0]["id"]) if courses else None


def _update(transport: Transport, cid: int, fields: dict[str, Any], warnings: list[str]) -> None:
    def send(f: dict[str, Any]) -> None:
        raise_warnings("core_course_update_courses", transport.call("core_course_update_courses", {"courses": [{"id": cid, **f}]}))

    _lenient_lang(send, fields, warnings)


def _create(transport: Transport, integration: Integration, origin_id: str, fields: dict[str, Any],
            warnings: list[str]) -> tuple[int, bool]:
    """``(course id, created)``: created, or found after losing a race (then not updated yet)."""
    category = int(setting(integration, "course_category_id"))
    error: RemoteInputInvalid | None = None
    for shortname in shortnames(origin_id):
        def send(f: dict[str, Any], shortname: str = shortname) -> Any:
            item = {**f, "shortname": shortname, "categoryid": category, "idnumber": origin_id}
            return transport.call("core_course_create_courses", {"courses": [item]})

        try:
            return int(_lenient_lang(send, fields, warnings)[0]["id"]), True
        except RemoteInputInvalid as exc:
            if exc.code not in _TAKEN:
                raise
            error = exc
        found = _find(transport, origin_id)  # a concurrent writer of this origin_id won the race
        if found is not None:
            return found, False
        if error.code == "courseidnumbertaken":  # held by a course this token cannot see
            raise error
    assert error is not None
    raise error


def upsert_course(integration: Integration, transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """Create or update the course whose ``idnumber`` is ``payload["origin_id"]``."""
    origin_id = str(payload["origin_id"]).strip()
    if not origin_id or len(origin_id) > _IDNUMBER_MAX:
        raise ActionInputInvalid(f"origin_id must have 1 to {_IDNUMBER_MAX} characters (Moodle keeps it in the course idnumber)")
    warnings: list[str] = []
    fields = course_fields(payload["course"], warnings)
    with origin_lock(integration.id, origin_id):
        cid = _find(transport, origin_id)
        created = False
        if cid is None:
            cid, created = _create(transport, integration, origin_id, fields, warnings)
        if not created:
            _update(transport, cid, fields, warnings)
    refresh = [{"model": "courses", "remote_ids": [str(cid)]}, {"model": "course_revisions", "remote_ids": [str(cid)]}]
    return {"remote_id": str(cid), "refresh": refresh, "warnings": warnings}
