"""The ASGI app: `/webservice/rest/server.php` with Moodle's processing order (PROTOCOL §2)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from ._access import Call, moodle_error
from ._control import Fault, SimControl
from ._cost import REJECTED_MS
from ._encode import JSON_HEADERS, XML_HEADERS, json_error, php_json, xml_error, xml_response
from ._errors import EXCEPTION_STYLES, AccessException, InvalidParameter, MissingRecord, MoodleError
from ._model import Token
from ._params import decode_form
from ._registry import implementation
from ._schema import FunctionSpec, load_registry
from ._site import MoodleSite

__all__ = ["MoodleApp", "create_app", "ENDPOINT"]

ENDPOINT = "/webservice/rest/server.php"
log = logging.getLogger(__name__)
_HTML = [(b"content-type", b"text/html; charset=utf-8")]
_NOT_ALLOWED = (
    "Access to the function {0}() is not allowed. There could be multiple reasons for this: "
    "1. The service linked to the user token does not contain the function. "
    "2. The service is user-restricted and the user is not listed. "
    "3. The service is IP-restricted and the user IP is not listed. "
    "4. The service is time-restricted and the time has expired. "
    "5. The token is time-restricted and the time has expired. "
    "6. The user has no capability to use the service. "
    "7. The service requires a capability the user does not have. "
    "(Please check the WS functions, user, IP, and time restrictions.)")
_CACHE_LIMIT = 4096

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def _ip_allowed(ip: str, restriction: str) -> bool:
    for entry in (e.strip() for e in restriction.split(",")):
        if not entry:
            continue
        if entry == ip or (entry.endswith(".") and ip.startswith(entry)):
            return True
        try:
            if "/" in entry and ipaddress.ip_address(ip) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class MoodleApp:
    """ASGI application serving one `MoodleSite`; attributes may be changed at runtime."""

    def __init__(self, site: MoodleSite, control: SimControl | None = None, *, debug: bool = False,
                 exception_style: str = "5.x", debug_in_message: bool = False) -> None:
        if exception_style not in EXCEPTION_STYLES:
            raise ValueError(f"exception_style must be one of {EXCEPTION_STYLES}")
        self.site = site
        self.control = control or SimControl()
        self.debug = debug
        self.exception_style = exception_style
        self.debug_in_message = debug_in_message
        self.registry: dict[str, FunctionSpec] = load_registry()

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] != ENDPOINT or scope["method"] not in ("GET", "POST"):
            await self._send(send, (404, _HTML, b"<html><body><h1>Not Found</h1></body></html>"))
            return
        fields = decode_form(scope.get("query_string", b"").decode("latin-1"))
        if scope["method"] == "POST" and self._is_form(scope):
            fields.update(decode_form(body.decode("utf-8", "replace")))
        client = scope.get("client") or ("127.0.0.1", 0)
        await self._serve(send, fields, client[0])

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _is_form(scope: dict) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                return value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded"
        return False

    @staticmethod
    async def _send(send: Any, response: Response) -> None:
        status, headers, body = response
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _serve(self, send: Any, fields: dict, ip: str) -> None:
        control = self.control
        function = fields.get("wsfunction") if isinstance(fields.get("wsfunction"), str) else ""
        fault = control.decide(function or "")
        if control.latency_ms:
            await asyncio.sleep(control.latency_ms / 1000)
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(control.timeout_s)
        response = self._fault_response(fault, fields) if fault is not None else None
        if response is None:
            response = self.handle(fields, ip)
            if fault is not None and fault.kind == "truncated":
                status, headers, body = response
                response = (status, headers, body[: max(1, len(body) // 2)])
        await self._send(send, response)

    # ------------------------------------------------------------------ faults
    def _fault_response(self, fault: Fault, fields: dict) -> Response | None:
        retry = [(b"retry-after", str(self.control.retry_after).encode())]
        kind = fault.kind
        if kind == "http500":
            return 500, _HTML, b"<html><body><h1>500 Internal Server Error</h1></body></html>"
        if kind == "http503":
            return 503, _HTML + retry, b"<html><body><h1>503 Service Unavailable</h1></body></html>"
        if kind == "http429":
            return 429, _HTML + retry, b"<html><body><h1>429 Too Many Requests</h1></body></html>"
        if kind == "html":
            return 200, _HTML, (b"<!DOCTYPE html><html><head><title>Error</title></head><body>"
                                b"<div class=\"errorbox\"><p class=\"errormessage\">Error reading from database</p>"
                                b"</div></body></html>")
        if kind == "errorbody":
            return self._error(MoodleError("dmlreadexception", "Error reading from database",
                                           "SQL error (simulated)", kind="dml_read_exception"), fields)
        if kind == "permanent":
            code = fault.errorcode or "dmlreadexception"
            exc = (MoodleError(code, "Error reading from database", "simulated", kind="dml_read_exception")
                   if code == "dmlreadexception" else moodle_error(code, f"Simulated failure: {code}"))
            return self._error(exc, fields)
        return None

    # ------------------------------------------------------------------ processing
    @staticmethod
    def _format_of(fields: dict) -> str:
        return "json" if fields.get("moodlewsrestformat") == "json" else "xml"

    def handle(self, fields: dict, ip: str = "127.0.0.1") -> Response:
        """Process one decoded request synchronously (usable without HTTP)."""
        if not self.site.rest_enabled:
            return 403, [], b""
        fmt = self._format_of(fields)
        fields = dict(fields)
        token = fields.pop("wstoken", None)
        function = fields.pop("wsfunction", None)
        fields.pop("moodlewsrestformat", None)
        settings = {}
        for key in [k for k in fields if isinstance(k, str) and k.startswith("moodlewssetting")]:
            value = fields.pop(key)
            if isinstance(value, str):
                settings[key[len("moodlewssetting"):]] = value
        try:
            tok = self._authenticate(token, ip)
            caller = self._check_user(tok)
            if not isinstance(function, str) or not function:
                raise InvalidParameter("Missing function name")
            spec = self.registry.get(function)
            if spec is None:
                raise MissingRecord("external_functions", "SELECT * FROM {external_functions} WHERE name = ?"
                                    f"\n[array (\n  0 => '{function}',\n)]")
            if not tok.service_enabled or (tok.functions is not None and function not in tok.functions):
                raise AccessException(_NOT_ALLOWED.format(function))
            return self._run(spec, tok, caller, fields, fmt, settings)
        except MoodleError as exc:  # refused before the function ran (its own errors are charged in _run)
            self.site.php_cost.charge(function if isinstance(function, str) else "", REJECTED_MS)
            return self._error(exc, fmt)
        except Exception as exc:  # a simulator bug: answer like a raw PHP error, never crash
            log.exception("simulator function failed")
            return self._error(MoodleError(None, f"{type(exc).__name__}: {exc}", kind="Error"), fmt)

    def _authenticate(self, token: Any, ip: str) -> Token:
        site = self.site
        tok = site.tokens.get(token.strip()) if isinstance(token, str) else None
        if tok is None:
            raise moodle_error("invalidtoken", "Invalid token - token not found")
        if tok.validuntil and tok.validuntil < site.now():
            del site.tokens[tok.token]
            raise AccessException("Invalid token - token expired - check validuntil time for the token")
        if tok.iprestriction and not _ip_allowed(ip, tok.iprestriction):
            raise AccessException(f"Invalid service - IP:{ip} is not supported - check this allowed user")
        return tok

    def _check_user(self, tok: Token):
        user = self.site.users.get(tok.userid)
        if user is None or user.deleted:
            name = user.username if user else str(tok.userid)
            raise moodle_error("wsaccessuserdeleted", f"Refused web service access for deleted username: {name}")
        for flag, code, label in ((not user.confirmed, "wsaccessuserunconfirmed", "unconfirmed"),
                                  (user.suspended, "wsaccessusersuspended", "suspended"),
                                  (user.auth == "nologin", "wsaccessusernologin", "nologin authentication")):
            if flag:
                raise moodle_error(code, f"Refused web service access for {label} username: {user.username}")
        if not tok.can("webservice/rest:use"):
            raise AccessException("You are not allowed to use the rest protocol "
                                  "(missing capability: webservice/rest:use)")
        return user

    def _run(self, spec: FunctionSpec, tok: Token, caller: Any, fields: dict, fmt: str,
             settings: dict[str, str]) -> Response:
        params = spec.validate(fields)
        cost = self.site.php_cost
        cacheable = spec.raw.get("type") == "read"
        key = None
        if cacheable:
            key = ("resp", spec.name, fmt, tok.token, repr(params), repr(sorted(settings.items())))
            hit = self.site.cache.get(key)
            if hit is not None:  # a real site would have done the work again: charge it again
                cost.charge(spec.name, hit[1])
                return hit[0]
        call = Call(self.site, tok, caller, spec.name, self.debug, settings=settings)
        try:
            cleaned = spec.clean(implementation(spec.name)(call, params))
        except MoodleError as exc:
            cost.charge(spec.name, cost.base_ms(spec.name) + call.extra_ms)
            return self._error(exc, fmt)
        ms = cost.base_ms(spec.name) + call.extra_ms
        cost.charge(spec.name, ms)
        if fmt == "json":
            response = (200, JSON_HEADERS, php_json(cleaned))
        else:
            response = (200, XML_HEADERS, xml_response(cleaned, spec.returns))
        if key is not None:
            if len(self.site.cache) > _CACHE_LIMIT:
                self.site.cache.clear()
            self.site.cache[key] = (response, ms)
        return response

    def _error(self, exc: MoodleError, fmt: Any) -> Response:
        if isinstance(fmt, dict):
            fmt = self._format_of(fmt)
        opts = {"debug": self.debug, "style": self.exception_style, "debug_in_message": self.debug_in_message}
        if fmt == "json":
            return 200, JSON_HEADERS, json_error(exc, **opts)
        return 200, XML_HEADERS, xml_error(exc, **opts)


def create_app(site: MoodleSite, control: SimControl | None = None, *, debug: bool = False,
               exception_style: str = "5.x", debug_in_message: bool = False) -> MoodleApp:
    """Build the ASGI app for `site` (debug = site debugging on: debuginfo shown)."""
    return MoodleApp(site, control, debug=debug, exception_style=exception_style,
                     debug_in_message=debug_in_message)
