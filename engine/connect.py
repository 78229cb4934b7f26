"""The Connect flow (Kombo Connect's model): an operator's app asks for a link, its end user
opens it, picks the tool and gives the site URL and credentials, and the app learns which
integration was made through a single-use token — never from the browser directly.

Tokens are ``secrets.token_urlsafe(32)`` (256 bits); only their SHA-256 hex is stored
(``engine.store._connect``). Kinds:

* ``create`` — ``create_link``: a link for a new integration of an end user. ``EMBEDDED``
  links expire after 1 hour, ``MAGIC_LINK`` links after 30 days.
* ``relink`` — ``create_relink``: new credentials for an existing integration, which keeps
  its id (and so every synced record id).
* ``exchange`` — issued by ``complete_flow``; ``integration_by_token`` trades it, once and
  within 1 hour, for the integration it names.

A link is used once: ``complete_flow`` claims it with a conditional update, so a second
completion (or a race) gets ``LinkUsed``. ``start_flow`` (optional) creates the integration
before the credentials are given: it is then disabled and ``INCOMPLETE``; ``complete_flow``
checks the credentials (``verify``, e.g. ``scope_verifier``), stores them, enables the
integration (``FINAL_SYNC_PENDING``; ``COMPLETED`` once a FULL sync succeeded) and publishes
``integration-created``. Credentials that fail the check publish ``connection-flow-failed``
and leave the link usable for another try. ``complete_flow``'s ``opt_outs`` are the OPTIONAL
items of the integration's scope config the end user declined (``engine.scope_config``;
``opt_out_choices`` lists what can be declined): checked before the link is claimed, stored
with the credentials, so the first sync already leaves them out.

A link may name a scope config (``scope_config_id``: Kombo's field; a stored config's id or
name, ``None``: none). A ``create`` link's integration is bound to it by ``start_flow``, as soon
as it exists and before the credentials step, so that step offers the config's OPTIONAL items
and the opt-outs of the first submit are checked against it. A ``relink`` link without one keeps
the integration's binding; one naming a config rebinds the integration when the flow completes
(an abandoned relink changes nothing), and its credentials step already offers that config's
OPTIONAL items (``opt_out_choices``).

Errors (all ``ConnectError``, an ``LmsyncError``): ``LinkNotFound``, ``LinkExpired``,
``LinkUsed``, ``ConnectInputError`` (a field; its ``field`` attribute names it) and
``ConnectFlowFailed``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from engine.connector import SettingsError, check_settings
from engine.errors import LmsyncError
from engine.ids import random_id
from engine.integrations import (IntegrationChange, IntegrationMissing, SiteUrlError, UnknownConnector,
                                 connector_info, normalize_site_url, update_integration)
from engine.scope_config import ScopeConfig, ScopeConfigError, parse_opt_outs
from engine.store._connect import ConnectLink, IntegrationSetup
from engine.store.base import Integration, Store

__all__ = [
    "LINK_TTL", "EXCHANGE_TTL", "LINK_TYPES", "LANGUAGES", "EMAIL_PATTERN", "EndUser", "IssuedLink", "FlowResult",
    "ConnectError", "LinkNotFound", "LinkExpired", "LinkUsed", "ConnectInputError", "ConnectFlowFailed",
    "hash_token", "link_url", "create_link", "create_relink", "resolve_link", "start_flow", "complete_flow",
    "fail_flow", "integration_by_token", "setup_status", "end_user_of", "scope_verifier", "opt_out_choices",
]

log = logging.getLogger("lmsync.connect")

LINK_TTL = {"EMBEDDED": timedelta(hours=1), "MAGIC_LINK": timedelta(days=30)}
EXCHANGE_TTL = timedelta(hours=1)
LINK_TYPES = tuple(LINK_TTL)
LANGUAGES = ("en", "de", "fr", "it", "es")
_TOKEN_BYTES = 32
# deliberately loose (one @, a dot in the domain, no spaces or control characters): the address
# is only shown and sent on; also the pattern of the served OpenAPI, so explicit ranges, not \s
EMAIL_PATTERN = r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$"
_EMAIL = re.compile(EMAIL_PATTERN)
_LISTED_CONFIGS = 10  # how many existing config ids the error for an unknown one lists

Verify = Callable[[Integration], dict[str, Any] | None]


class ConnectError(LmsyncError):
    """A Connect flow operation was refused."""


class LinkNotFound(ConnectError):
    """No link or token hashes to the token given (or it is of another kind)."""


class LinkExpired(ConnectError):
    """The link or token expired."""


class LinkUsed(ConnectError):
    """The link or token was already used."""


class ConnectInputError(ConnectError, ValueError):
    """A field of a Connect request is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ConnectFlowFailed(ConnectError):
    """The credentials given in the flow did not work (``connection-flow-failed`` was published)."""


@dataclass(frozen=True)
class EndUser:
    """Who a link is for: ``email``, ``organization_name`` and the operator's own ``origin_id``."""

    email: str | None
    organization_name: str
    origin_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """The ``end_user`` object of the integration and of the webhooks."""
        return {"organization_name": self.organization_name, "creator_email": self.email, "origin_id": self.origin_id}


@dataclass(frozen=True)
class IssuedLink:
    """A new link: the token (shown once, never stored), its URL and the stored row."""

    token: str
    url: str
    link: ConnectLink


@dataclass(frozen=True)
class FlowResult:
    """A completed flow: the integration, the exchange token for ``integration_by_token`` and
    whether an existing integration was relinked."""

    integration: Integration
    exchange_token: str
    relinked: bool


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    """``{LMSYNC_PUBLIC_URL}/connect/{token}``: the page the end user opens."""
    from engine.webhooks._payloads import public_url

    return f"{public_url()}/connect/{token}"


def _check_choice(field: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ConnectInputError(field, f"{value!r} is not one of {', '.join(allowed)}")


def _check_tool(tool: str) -> None:
    try:
        connector_info(tool)
    except UnknownConnector as exc:
        raise ConnectInputError("integration_tool", str(exc)) from None


def _scope_config_id(store: Store, named: str | None) -> str | None:
    """The id of the scope config *named* (its id or name; ``None``: none named). An unknown one
    raises ``ConnectInputError`` on ``scope_config_id`` naming it and listing the existing ids."""
    if named is None:
        return None
    found = store.get_scope_config(named) if isinstance(named, str) and hasattr(store, "get_scope_config") else None
    if found is not None:
        return found.id
    configs = store.list_scope_configs() if hasattr(store, "list_scope_configs") else []  # type: ignore[attr-defined]
    ids = [c.id if c.name == c.id else f"{c.id} ({c.name})" for c in configs]
    listed = ", ".join(ids[:_LISTED_CONFIGS]) or "none"
    if len(ids) > _LISTED_CONFIGS:
        listed += f" and {len(ids) - _LISTED_CONFIGS} more"
    raise ConnectInputError("scope_config_id", f"no scope config {named!r}; existing ids: {listed} "
                                               "(see GET /v1/scope-configs)")


def _issue(store: Store, link: ConnectLink) -> str:
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    store.add_connect_link(replace(link, token_hash=hash_token(token)))  # type: ignore[attr-defined]
    return token


def create_link(store: Store, end_user: EndUser, *, tool: str | None = None, language: str | None = None,
                link_type: str = "EMBEDDED", scope_config_id: str | None = None,
                now: datetime | None = None) -> IssuedLink:
    """A link for *end_user* to create an integration (of *tool*, when given), bound to the
    scope config *scope_config_id* (a stored config's id or name; ``None``: the built-in
    default) as soon as the flow creates it. Raises ``ConnectInputError`` naming the field
    (``end_user_email``, ``end_user_organization_name``, ``integration_tool``, ``language``,
    ``link_type``, ``scope_config_id``)."""
    if end_user.email is None or not _EMAIL.match(end_user.email):
        raise ConnectInputError("end_user_email", f"{end_user.email!r} is not an email address")
    if not end_user.organization_name.strip():
        raise ConnectInputError("end_user_organization_name", "must not be empty")
    _check_choice("link_type", link_type, LINK_TYPES)
    _check_choice("language", language, LANGUAGES)
    if tool is not None:
        _check_tool(tool)
    config_id = _scope_config_id(store, scope_config_id)
    created = _now(now)
    link = ConnectLink(id=random_id(), token_hash="", kind="create", link_type=link_type, created_at=created,
                       expires_at=created + LINK_TTL[link_type], end_user_email=end_user.email,
                       end_user_organization_name=end_user.organization_name.strip(),
                       end_user_origin_id=end_user.origin_id, tool=tool, language=language,
                       scope_config_id=config_id)
    token = _issue(store, link)
    return IssuedLink(token, link_url(token), replace(link, token_hash=hash_token(token)))


def create_relink(store: Store, integration_id: str, *, language: str | None = None, link_type: str = "EMBEDDED",
                  scope_config_id: str | None = None, now: datetime | None = None) -> IssuedLink:
    """A link that replaces the site URL and credentials of *integration_id*, keeping its id.

    Without *scope_config_id* the integration keeps its scope config binding (and opt-outs).
    With one (a stored config's id or name, or ``default``) the completed flow rebinds the
    integration to it — only then, so an abandoned relink changes nothing — and the credentials
    step offers that config's OPTIONAL items. Raises ``IntegrationMissing`` or
    ``ConnectInputError`` (``scope_config_id`` for an unknown config)."""
    integration = store.get_integration(integration_id)
    if integration is None:
        raise IntegrationMissing(f"no integration {integration_id!r}")
    _check_choice("link_type", link_type, LINK_TYPES)
    _check_choice("language", language, LANGUAGES)
    config_id = _scope_config_id(store, scope_config_id)
    user = end_user_of(store, integration)
    created = _now(now)
    link = ConnectLink(id=random_id(), token_hash="", kind="relink", link_type=link_type, created_at=created,
                       expires_at=created + LINK_TTL[link_type], integration_id=integration.id,
                       end_user_email=user.email, end_user_organization_name=user.organization_name,
                       end_user_origin_id=user.origin_id, tool=integration.connector, language=language,
                       scope_config_id=config_id)
    token = _issue(store, link)
    return IssuedLink(token, link_url(token), replace(link, token_hash=hash_token(token)))


def _resolve(store: Store, token: str, kinds: tuple[str, ...], now: datetime | None) -> ConnectLink:
    link = store.connect_link_by_hash(hash_token(token)) if token else None  # type: ignore[attr-defined]
    what = "token" if kinds == ("exchange",) else "link"
    if link is None or link.kind not in kinds:
        raise LinkNotFound(f"no Connect {what} matches this token")
    if link.used_at is not None:
        raise LinkUsed(f"this Connect {what} was already used (at {link.used_at.isoformat(timespec='seconds')}); "
                       + ("ask for a new link" if what == "link" else "a token is valid once"))
    if link.expires_at <= _now(now):
        raise LinkExpired(f"this Connect {what} expired at {link.expires_at.isoformat(timespec='seconds')}"
                          + ("; ask for a new link" if what == "link" else ""))
    return link


def resolve_link(store: Store, token: str, now: datetime | None = None) -> ConnectLink:
    """The unused, unexpired ``create`` or ``relink`` link of *token*; else ``LinkNotFound``,
    ``LinkUsed`` or ``LinkExpired`` (each with a message saying which)."""
    return _resolve(store, token, ("create", "relink"), now)


def _end_user_from_link(link: ConnectLink) -> EndUser:
    return EndUser(link.end_user_email, link.end_user_organization_name or "", link.end_user_origin_id)


def _chosen_tool(link: ConnectLink, tool: str | None) -> str:
    if link.tool is not None and tool is not None and tool != link.tool:
        raise ConnectInputError("integration_tool", f"this link is for {link.tool!r}, not {tool!r}")
    chosen = link.tool or tool
    if chosen is None:
        raise ConnectInputError("integration_tool", "choose a tool (the link does not name one)")
    _check_tool(chosen)
    return chosen


def _site_url(base_url: str, tool: str) -> str:
    try:
        return normalize_site_url(base_url, connector_info(tool))[0]
    except SiteUrlError as exc:
        raise ConnectInputError("base_url", str(exc)) from None


def _settings(tool: str, settings: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return check_settings(connector_info(tool), dict(settings or {}))
    except SettingsError as exc:
        raise ConnectInputError("settings", str(exc)) from None


def start_flow(store: Store, token: str, *, base_url: str, tool: str | None = None,
               settings: dict[str, Any] | None = None, now: datetime | None = None) -> Integration:
    """Create (or, called again, update) the integration of a ``create`` link before its
    credentials are known: disabled, no credentials, ``INCOMPLETE``, and bound to the scope
    config the link names. For a ``relink`` link, the integration to relink (nothing changes yet)."""
    link = resolve_link(store, token, now)
    if link.kind == "relink":
        found = store.get_integration(link.integration_id or "")
        if found is None:
            raise LinkNotFound("the integration of this relink link no longer exists")
        return found
    chosen = _chosen_tool(link, tool)
    url, typed = _site_url(base_url, chosen), _settings(chosen, settings)
    if link.integration_id is not None and (found := store.get_integration(link.integration_id)) is not None:
        found.base_url, found.settings = url, typed
        store.update_integration(found)
        _bind_link_config(store, link, found.id)
        return found
    integration = Integration(id=f"{chosen}:{random_id()}", connector=chosen, base_url=url, credentials={},
                              settings=typed, enabled=False, created_at=_now(now))
    store.add_integration(integration)
    _put_setup(store, integration.id, "INCOMPLETE", _end_user_from_link(link), now)
    if not store.bind_connect_link(link.id, integration.id):  # type: ignore[attr-defined]
        store.remove_integration(integration.id)
        raise LinkUsed("this Connect link was used meanwhile; ask for a new link")
    _bind_link_config(store, link, integration.id)
    return integration


def _bind_link_config(store: Store, link: ConnectLink, integration_id: str, now: datetime | None = None) -> None:
    """Bind *integration_id* to the scope config *link* names, unless it is bound to it already
    (or the link names none)."""
    if link.scope_config_id is None or not hasattr(store, "bind_scope_config"):
        return
    if store.scope_config_of(integration_id).id == link.scope_config_id:  # type: ignore[attr-defined]
        return
    store.bind_scope_config(integration_id, link.scope_config_id, now)  # type: ignore[attr-defined]


def _put_setup(store: Store, integration_id: str, status: str, user: EndUser, now: datetime | None) -> None:
    store.put_integration_setup(IntegrationSetup(  # type: ignore[attr-defined]
        integration_id=integration_id, setup_status=status, updated_at=_now(now), end_user_email=user.email,
        end_user_organization_name=user.organization_name, end_user_origin_id=user.origin_id))


def _candidate(store: Store, link: ConnectLink, token: str, base_url: str | None, tool: str | None,
               settings: dict[str, Any] | None, now: datetime | None) -> Integration:
    """The integration the flow ends with, before its credentials are set."""
    if link.kind == "create" and (link.integration_id is None or base_url is not None):
        if base_url is None:
            raise ConnectInputError("base_url", "the site URL is required")
        return start_flow(store, token, base_url=base_url, tool=tool, settings=settings, now=now)
    found = store.get_integration(link.integration_id or "")
    if found is None:
        raise LinkNotFound("the integration of this link no longer exists; ask for a new link")
    if base_url is not None:
        found.base_url = _site_url(base_url, found.connector)
    if settings:
        found.settings = _settings(found.connector, {**found.settings, **settings})
    return found


def _check_credentials(tool: str, credentials: dict[str, str]) -> None:
    """Every credential the connector uses, as a non-empty string, and no other."""
    names = connector_info(tool).credential_names
    unknown = [k for k in credentials if k not in names]
    if unknown:
        raise ConnectInputError("credentials", f"unknown credential {unknown[0]!r}; valid: {', '.join(names)}")
    missing = [k for k in names if not isinstance(credentials.get(k), str) or not credentials[k].strip()]
    if missing:
        raise ConnectInputError("credentials", f"{missing[0]!r} is required (a non-empty string)")


def _flow_config(store: Store, integration_id: str, scope_config_id: str | None) -> ScopeConfig:
    """The scope config the flow leaves *integration_id* bound to: the link's
    (*scope_config_id*), else the one it is bound to."""
    named = store.get_scope_config(scope_config_id) if scope_config_id is not None else None  # type: ignore[attr-defined]
    return named if named is not None else store.scope_config_of(integration_id)  # type: ignore[attr-defined]


def opt_out_choices(store: Store, integration_id: str | None,
                    scope_config_id: str | None = None) -> list[tuple[str, bool]]:
    """``[(item, opted_out)]``: the OPTIONAL items the end user may decline (``models.M``,
    ``fields.M.F``, ``actions.A``) and whether they did, of the scope config the flow leaves the
    integration bound to (*scope_config_id*, the link's, else its current one); ``[]`` before
    the integration exists or on a store without scope configs."""
    if not integration_id or not hasattr(store, "scope_config_of"):
        return []
    config = _flow_config(store, integration_id, scope_config_id)
    scope = config.with_opt_outs(store.opt_outs_of(integration_id))  # type: ignore[attr-defined]
    return [(item, item in scope.opted_out) for item in scope.optional_items()]


def _checked_opt_outs(store: Store, integration_id: str, opt_outs: Iterable[str] | None,
                      scope_config_id: str | None) -> frozenset[str] | None:
    if opt_outs is None:
        return None
    try:
        return parse_opt_outs(_flow_config(store, integration_id, scope_config_id), opt_outs)
    except ScopeConfigError as exc:
        raise ConnectInputError("opt_outs", str(exc)) from None


def complete_flow(store: Store, token: str, *, credentials: dict[str, str], base_url: str | None = None,
                  tool: str | None = None, settings: dict[str, Any] | None = None, verify: Verify | None = None,
                  opt_outs: Iterable[str] | None = None, now: datetime | None = None) -> FlowResult:
    """Finish the flow of link *token* with the end user's *credentials* (and *base_url*,
    required unless ``start_flow`` ran or it is a relink keeping its URL).

    *verify* (e.g. ``scope_verifier(engine)``) gets the integration with the new credentials
    before anything is stored and returns its availability (or ``None``); an ``LmsyncError``
    from it publishes ``connection-flow-failed`` and raises ``ConnectFlowFailed`` (the link
    stays usable). Then the link is claimed (``LinkUsed`` if someone else did), the
    credentials are stored (a relink through ``engine.integrations.update_integration``, so
    the id stays), ``integration-created`` is published for a new integration, and the
    exchange token is issued.

    *opt_outs* (``None``: leave them as they are) replace the integration's opt-outs; each must
    be an OPTIONAL item of its scope config — the link's, when it names one (``ConnectInputError``
    on ``opt_outs`` otherwise). A relink naming a scope config rebinds the integration to it
    after the link is claimed, before the opt-outs are stored.
    """
    link = resolve_link(store, token, now)
    candidate = _candidate(store, link, token, base_url, tool, settings, now)
    link = resolve_link(store, token, now)  # start_flow may have bound it to the integration
    user = _end_user_from_link(link)
    _check_credentials(candidate.connector, credentials)
    declined = _checked_opt_outs(store, candidate.id, opt_outs, link.scope_config_id)
    trial = replace(candidate, credentials={**candidate.credentials, **credentials}, enabled=True)
    availability = None
    if verify is not None:
        try:
            availability = verify(trial)
        except LmsyncError as exc:
            fail_flow(store, link, f"{type(exc).__name__}: {exc}")
            raise ConnectFlowFailed(f"the credentials did not work: {exc}") from None
    if not store.use_connect_link(link.id, _now(now)):  # type: ignore[attr-defined]
        resolve_link(store, token, now)  # raises the precise reason
        raise LinkUsed("this Connect link was used meanwhile")
    integration = update_integration(store, candidate.id, IntegrationChange(
        base_url=trial.base_url, credentials=credentials, enabled=True)).integration
    if candidate.settings != integration.settings or availability is not None:
        integration.settings = candidate.settings
        integration.availability = availability if availability is not None else integration.availability
        store.update_integration(integration)
    _bind_link_config(store, link, integration.id, now)  # a create link's: bound by start_flow already
    if declined is not None:
        store.set_opt_outs(integration.id, declined, now)  # type: ignore[attr-defined]
    relinked = link.kind == "relink"
    if not relinked:
        _put_setup(store, integration.id, "FINAL_SYNC_PENDING", user, now)
        _publish(store, integration.id, "integration-created", user, integration.connector)
    exchange = ConnectLink(id=random_id(), token_hash="", kind="exchange", link_type="EXCHANGE",
                           created_at=_now(now), expires_at=_now(now) + EXCHANGE_TTL, integration_id=integration.id,
                           end_user_email=user.email, end_user_organization_name=user.organization_name,
                           end_user_origin_id=user.origin_id, tool=integration.connector)
    return FlowResult(integration, _issue(store, exchange), relinked)


def fail_flow(store: Store, link: ConnectLink | str, reason: str) -> None:
    """Publish ``connection-flow-failed`` for *link* (a ``ConnectLink`` or its token); *reason*
    goes to the log only (it may name the remote's answer)."""
    if isinstance(link, str):
        link = resolve_link(store, link)
    log.info("connection flow of link %s failed: %s", link.id, reason)
    _publish(store, link.integration_id or "", "connection-flow-failed", _end_user_from_link(link),
             link.tool or "unknown", link_id=link.id)


def _publish(store: Store, integration_id: str, event: str, user: EndUser, tool: str, link_id: str = "") -> None:
    from engine.webhooks import connection_flow_failed_payload, integration_created_payload, sender_for
    from engine.webhooks._payloads import public_url

    if event == "integration-created":
        payload = integration_created_payload(integration_id, tool, user.payload())
    else:
        payload = connection_flow_failed_payload(tool, user.payload(),
                                                 f"{public_url()}/v1/connect/links/{quote(link_id, safe='')}")
    try:
        sender_for(store).publish_events(integration_id, [payload])
    except Exception:  # noqa: BLE001 - a webhook must never undo a completed flow
        log.exception("publishing %s failed", event)


def integration_by_token(store: Store, token: str, now: datetime | None = None) -> Integration:
    """The integration an exchange token names; the token is used up by this call. Raises
    ``LinkNotFound``, ``LinkUsed`` or ``LinkExpired``."""
    link = _resolve(store, token, ("exchange",), now)
    if not store.use_connect_link(link.id, _now(now)):  # type: ignore[attr-defined]
        _resolve(store, token, ("exchange",), now)
        raise LinkUsed("this Connect token was used meanwhile; a token is valid once")
    found = store.get_integration(link.integration_id or "")
    if found is None:
        raise LinkNotFound("the integration of this token no longer exists")
    return found


def setup_status(store: Store, integration: Integration) -> str:
    """``INCOMPLETE`` (flow started, no credentials yet), ``COMPLETED`` (a FULL sync
    succeeded) or ``FINAL_SYNC_PENDING``."""
    setup = store.get_integration_setup(integration.id) if hasattr(store, "get_integration_setup") else None
    if setup is not None and setup.setup_status == "INCOMPLETE":
        return "INCOMPLETE"
    runs = store.list_runs(integration.id, limit=50)
    return "COMPLETED" if any(r.status == "succeeded" and r.kind == "FULL" for r in runs) else "FINAL_SYNC_PENDING"


def end_user_of(store: Store, integration: Integration) -> EndUser:
    """The end user the flow recorded; for an integration added otherwise, from its settings
    (``organization_name``, ``creator_email``, ``origin_id``) or its site URL."""
    setup = store.get_integration_setup(integration.id) if hasattr(store, "get_integration_setup") else None
    if setup is not None and setup.end_user_organization_name:
        return EndUser(setup.end_user_email, setup.end_user_organization_name, setup.end_user_origin_id)
    settings = integration.settings or {}
    return EndUser(settings.get("creator_email"),
                   str(settings.get("organization_name") or integration.base_url or integration.id),
                   settings.get("origin_id"))


def scope_verifier(engine: Any) -> Verify:
    """A *verify* for ``complete_flow``: the scope test of ``engine`` (a ``SyncEngine``) on the
    integration with the new credentials; its availability is what ``read_models`` and
    ``write_actions`` then show. Errors the remote answers with propagate (the flow fails)."""
    from engine.scope import availability_from, run_scope_test

    def verify(integration: Integration) -> dict[str, Any]:
        return availability_from(run_scope_test(engine, integration, save=False))

    return verify
