"""Moodle error bodies → the engine's typed errors, by ``errorcode`` (never by message text).

Moodle answers almost every failure with HTTP 200 and a JSON object
``{"exception", "errorcode", "message"[, "debuginfo"]}``; some raw PHP errors come without an
``errorcode`` (OBSERVED-5.0 §2.4), and those stay plain ``RemoteError``s.
"""

from __future__ import annotations

from typing import Any

from engine.errors import (
    AccessDenied,
    AuthenticationFailed,
    PermissionMissing,
    RemoteError,
    RemoteInputInvalid,
    RemoteNotFound,
    RemoteServerError,
)

__all__ = ["error_from_body", "ERROR_CLASSES"]

_AUTH = {
    "invalidtoken",
    "wsaccessuserdeleted",
    "wsaccessusersuspended",
    "wsaccessuserunconfirmed",
    "wsaccessusernologin",
    "wsaccessuserexpired",
}
_ACCESS = {"accessexception"}
_PERMISSION = {
    "nopermissions",
    "requireloginerror",
    "errorcoursecontextnotvalid",
    "errorcatcontextnotvalid",
    "restrictedcontextexception",
    "cannotviewreport",
    "errorreportview",  # report builder: core_reportbuilder\report_access_exception
    "nopermissiontoviewgrades",
    "wsusercannotassign",
    "accessdenied",
    "criteriaerror",
}
_INPUT = {
    "invalidparameter",
    "errorinvalidparam",
    "keyalreadyset",
    "codingerror",
    "shortnametaken",
    "courseidnumbertaken",
    "idnumbertaken",
    "invalidpersistenterror",
    "wsnoinstance",
    "wscannotenrol",
    "userdeleted",
    "usernotconfirmed",
    "guestsarenotallowed",
    "invaliduser",
    "completionnotenabled",
    "cannotmanualctrack",
    "nocriteriaset",
    "noselfcompletioncriteria",
}
_NOT_FOUND = {"invalidrecord", "invalidrecordunknown", "invalidcoursemodule", "usernotenroled"}
_TRANSIENT = {"dmlreadexception", "dmlwriteexception", "sitemaintenance"}

ERROR_CLASSES: dict[str, type[RemoteError]] = {
    **dict.fromkeys(_AUTH, AuthenticationFailed),
    **dict.fromkeys(_ACCESS, AccessDenied),
    **dict.fromkeys(_PERMISSION, PermissionMissing),
    **dict.fromkeys(_INPUT, RemoteInputInvalid),
    **dict.fromkeys(_NOT_FOUND, RemoteNotFound),
}


def error_from_body(call: str, body: dict[str, Any]) -> Exception:
    """The typed error for a Moodle error object."""
    code = body.get("errorcode")
    code = code if isinstance(code, str) else None
    message = str(body.get("message") or body.get("exception") or "Moodle reported an error")
    debug = body.get("debuginfo")
    if debug:
        message = f"{message} ({debug})"
    if code in _TRANSIENT:
        return RemoteServerError(f"[{code}] {message}", call=call, status=200)
    cls = ERROR_CLASSES.get(code or "", RemoteError)
    if code is None:
        message = f"{body.get('exception', 'error')}: {message}"
    return cls(message, call=call, code=code, details={"exception": body.get("exception")})
