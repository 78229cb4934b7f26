"""Exceptions raised inside the simulator and rendered as Moodle error bodies.

Exception tree::

    SimulatorError                      base of everything the simulator raises on purpose
    ├── MoodleError                     a Moodle exception as the REST client sees it
    │   ├── InvalidParameter            invalid_parameter_exception / invalidparameter
    │   ├── InvalidResponse             invalid_response_exception / invalidresponse
    │   ├── MissingRecord               dml_missing_record_exception (invalidrecord[unknown])
    │   ├── RequiredCapability          required_capability_exception / nopermissions
    │   └── AccessException             webservice_access_exception / accessexception
    └── RestDisabled                    REST protocol off: HTTP 403 with an empty body

`MoodleError.kind` is the PHP class in its legacy spelling; `class_name()` turns it into the
spelling of the configured exception style (``"5.x"`` namespaced or ``"legacy"``).
"""

from __future__ import annotations

__all__ = [
    "SimulatorError", "MoodleError", "InvalidParameter", "InvalidResponse", "MissingRecord",
    "RequiredCapability", "AccessException", "RestDisabled", "EXCEPTION_STYLES",
]

EXCEPTION_STYLES = ("5.x", "legacy")

# Classes that moved to core\exception\ in 5.x; all others keep their name.
_NAMESPACED = {
    "moodle_exception", "required_capability_exception", "coding_exception",
    "invalid_parameter_exception", "require_login_exception", "invalid_response_exception",
}
_ALWAYS = {"restricted_context_exception": "core_external\\restricted_context_exception"}

CAPABILITY_NAMES = {
    "moodle/course:view": "View courses without participation",
    "moodle/course:update": "Update course settings",
    "moodle/course:create": "Create courses",
    "moodle/course:overridecompletion": "Override the activity completion status",
    "moodle/competency:competencyview": "View competency frameworks",
    "moodle/competency:coursecompetencyview": "View course competencies",
    "moodle/course:viewparticipants": "View participants",
    "moodle/role:assign": "Assign roles to users",
    "enrol/manual:enrol": "Enrol users",
    "enrol/manual:unenrol": "Unenrol users from the course",
    "gradereport/user:view": "View your own grade report",
    "moodle/grade:viewall": "View grades of other users",
    "report/progress:view": "View activity completion reports",
    "moodle/course:enrolreview": "Review course enrolments",
}


class SimulatorError(Exception):
    """Base class of every deliberate simulator exception."""


class RestDisabled(SimulatorError):
    """The REST protocol or web services are disabled: HTTP 403, empty body."""


class MoodleError(SimulatorError):
    """A Moodle exception: PHP class `kind`, `errorcode`, `message`, optional `debuginfo`.

    `errorcode=None` models raw PHP errors (``Error``, ``TypeError``) that have no errorcode.
    """

    kind = "moodle_exception"

    def __init__(self, errorcode: str | None, message: str, debuginfo: str | None = None,
                 *, kind: str | None = None) -> None:
        super().__init__(message)
        self.errorcode = errorcode
        self.message = message
        self.debuginfo = debuginfo
        if kind:
            self.kind = kind

    def class_name(self, style: str) -> str:
        """PHP `get_class()` of this exception in the given exception style."""
        if self.kind in _ALWAYS:
            return _ALWAYS[self.kind]
        if style == "5.x" and self.kind in _NAMESPACED:
            return "core\\exception\\" + self.kind
        return self.kind

    def code_for(self, debug: bool) -> str | None:
        """The errorcode as rendered (may depend on the site debug setting)."""
        return self.errorcode

    def message_for(self, debug: bool) -> str:
        """The message as rendered (may depend on the site debug setting)."""
        return self.message


class InvalidParameter(MoodleError):
    """invalid_parameter_exception: message fixed, the detail is in debuginfo."""

    kind = "invalid_parameter_exception"

    def __init__(self, debuginfo: str) -> None:
        super().__init__("invalidparameter", "Invalid parameter value detected", debuginfo)


class InvalidResponse(MoodleError):
    """invalid_response_exception: the function's data did not match its returns description."""

    kind = "invalid_response_exception"

    def __init__(self, debuginfo: str) -> None:
        super().__init__("invalidresponse", "Invalid response value detected", debuginfo)


class MissingRecord(MoodleError):
    """dml_missing_record_exception; the errorcode depends on debugging (OBSERVED §2.2)."""

    kind = "dml_missing_record_exception"

    def __init__(self, table: str, sql: str | None = None) -> None:
        super().__init__("invalidrecord", f"Can't find data record in database table {table}.",
                         sql or f"SELECT * FROM {{{table}}} WHERE id = ?")
        self.table = table

    def code_for(self, debug: bool) -> str:
        return "invalidrecord" if debug else "invalidrecordunknown"

    def message_for(self, debug: bool) -> str:
        if debug:
            return self.message
        return "Can't find data record in database."


class RequiredCapability(MoodleError):
    """required_capability_exception / nopermissions for one capability."""

    kind = "required_capability_exception"

    def __init__(self, capability: str) -> None:
        name = CAPABILITY_NAMES.get(capability, capability)
        super().__init__(
            "nopermissions",
            f"Sorry, but you do not currently have permissions to do that ({name}).",
            capability)


class AccessException(MoodleError):
    """webservice_access_exception / accessexception; the reason is only in debuginfo."""

    kind = "webservice_access_exception"

    def __init__(self, debuginfo: str) -> None:
        super().__init__("accessexception", "Access control exception", debuginfo)
