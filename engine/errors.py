"""Every error the engine raises, in one tree.

::

    LmsyncError
    ├── SpecError                  a mapping file is broken (file, line, field, cause)
    │   └── ExpressionError        a JMESPath expression does not parse or names an unknown function
    ├── TransportError             talking to the remote system failed
    │   ├── TransientError         worth retrying (the engine retries with backoff)
    │   │   ├── RemoteTimeout
    │   │   ├── RemoteUnreachable
    │   │   ├── RemoteServerError  HTTP 5xx
    │   │   └── RateLimited        HTTP 429, honours Retry-After
    │   ├── BadResponse            not JSON, truncated, HTML page, wrong content type, wrong shape
    │   └── RemoteError            the remote answered with a logic error (never retried)
    │       ├── AuthenticationFailed      credentials invalid or expired
    │       ├── AccessDenied              the credentials may not call this function at all
    │       ├── PermissionMissing         callable, but the remote user lacks a capability
    │       ├── RemoteInputInvalid        the remote rejected a parameter
    │       └── RemoteNotFound            a referenced remote record does not exist
    ├── PaginationError            a stream repeated a page or ran past its page limit
    ├── RecordError                one record could not be mapped or failed validation
    ├── ActionError                a write action failed
    │   ├── ActionInputInvalid     the caller's input is wrong (nothing was written)
    │   │   └── ActionRecordNotFound   an id in the input names no known record
    │   └── ActionNotAvailable     the connector does not implement the action
    ├── SyncError                  a sync run could not start or finish
    └── ConfigError                a setting or a file lmsync needs is missing or broken (names it)

Messages never contain credentials: transports redact them before raising.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LmsyncError",
    "SpecError",
    "ExpressionError",
    "TransportError",
    "TransientError",
    "RemoteTimeout",
    "RemoteUnreachable",
    "RemoteServerError",
    "RateLimited",
    "BadResponse",
    "RemoteError",
    "AuthenticationFailed",
    "AccessDenied",
    "PermissionMissing",
    "RemoteInputInvalid",
    "RemoteNotFound",
    "PaginationError",
    "RecordError",
    "ActionError",
    "ActionInputInvalid",
    "ActionRecordNotFound",
    "ActionNotAvailable",
    "SyncError",
    "ConfigError",
]


class LmsyncError(Exception):
    """Base of every lmsync error."""


class SpecError(LmsyncError):
    """A mapping spec is invalid. ``str()`` is ``file:line: field: cause``."""

    def __init__(self, message: str, *, file: str = "<spec>", line: int | None = None, field: str | None = None,
                 column: int | None = None):
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.cause = message
        self.errors: list[SpecError] = [self]  # every problem of the file (see ``collected``)
        where = (f"{file}:{line}:{column}" if column else f"{file}:{line}") if line else file
        prefix = f"{where}: {field}: " if field else f"{where}: "
        super().__init__(prefix + message)

    @classmethod
    def collected(cls, errors: list["SpecError"]) -> "SpecError":
        """One error standing for several of one file: located at the first, ``str()`` lists all."""
        first = errors[0]
        if len(errors) == 1:
            return first
        out = cls(first.cause, file=first.file, line=first.line, field=first.field, column=first.column)
        out.errors = list(errors)
        out.args = ("\n".join(str(e) for e in errors),)
        return out


class ExpressionError(SpecError):
    """A JMESPath expression in a spec is invalid; the message shows it with a caret."""


class TransportError(LmsyncError):
    """Talking to the remote system failed. ``call`` names the remote function or endpoint."""

    def __init__(self, message: str, *, call: str | None = None):
        self.call = call
        super().__init__(f"{call}: {message}" if call else message)


class TransientError(TransportError):
    """A failure that may go away on retry."""

    retry_after: float | None = None


class RemoteTimeout(TransientError):
    """The remote did not answer within the per-call timeout."""


class RemoteUnreachable(TransientError):
    """The connection could not be made or broke."""


class RemoteServerError(TransientError):
    """The remote answered with HTTP 5xx."""

    def __init__(self, message: str, *, call: str | None = None, status: int = 500, retry_after: float | None = None):
        super().__init__(message, call=call)
        self.status = status
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The remote answered HTTP 429."""

    def __init__(self, message: str, *, call: str | None = None, retry_after: float | None = None):
        super().__init__(message, call=call)
        self.retry_after = retry_after


class BadResponse(TransportError):
    """The remote's answer is not what the protocol promises (garbage, truncated, HTML...)."""


class RemoteError(TransportError):
    """A logic error reported by the remote. ``code`` is the remote's own error code."""

    def __init__(self, message: str, *, call: str | None = None, code: str | None = None, details: Any = None):
        super().__init__(f"[{code}] {message}" if code else message, call=call)
        self.code = code
        self.remote_message = message
        self.details = details


class AuthenticationFailed(RemoteError):
    """Credentials are invalid, expired or belong to a disabled account."""


class AccessDenied(RemoteError):
    """The credentials may not call this function (e.g. not in the token's service)."""


class PermissionMissing(RemoteError):
    """The function is callable but the remote user lacks a capability."""


class RemoteInputInvalid(RemoteError):
    """The remote rejected a parameter."""


class RemoteNotFound(RemoteError):
    """A remote record the call refers to does not exist."""


class PaginationError(LmsyncError):
    """A paginated stream misbehaved: a repeated page or a runaway page count."""


class RecordError(LmsyncError):
    """One record failed mapping or validation; it is reported, never stored as valid."""

    def __init__(self, message: str, *, model: str, remote_id: str | None, field: str | None = None, value: Any = None):
        self.model = model
        self.remote_id = remote_id
        self.field = field
        self.value = value
        loc = f"{model} record {remote_id!r}" if remote_id is not None else f"{model} record"
        super().__init__(f"{loc}: {field}: {message}" if field else f"{loc}: {message}")


class ActionError(LmsyncError):
    """A write action failed. ``code`` is the API error code to report."""

    code = "REMOTE.UNKNOWN_ERROR"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


class ActionInputInvalid(ActionError):
    """The action's input is wrong; nothing was written."""

    code = "PLATFORM.INPUT_INVALID"


class ActionRecordNotFound(ActionInputInvalid):
    """An id in the action's input (an lmsync id, or a ``remote:`` id the remote does not
    know) names no record; nothing was written."""


class ActionNotAvailable(ActionError):
    """The integration's connector does not implement this action."""

    code = "INTEGRATION.ACTION_NOT_AVAILABLE"


class SyncError(LmsyncError):
    """A sync run could not start or complete."""


class ConfigError(LmsyncError):
    """A setting or file lmsync needs (secret key, schema file, ...) is missing or broken; the
    message names it."""
