"""Per-call context: the caller, capability checks, context validation and user details."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._errors import MissingRecord, MoodleError, RequiredCapability
from ._model import ROLES, Course, Token, User
from ._site import MoodleSite

__all__ = ["Call", "moodle_error"]

# roles holding moodle/user:viewdetails in the course context by default (lib/db/access.php)
_VIEWDETAILS_ROLES = frozenset({3, 4, 5})


def moodle_error(code: str, message: str, debuginfo: str | None = None, kind: str = "moodle_exception") -> MoodleError:
    """Shorthand for a plain moodle_exception."""
    return MoodleError(code, message, debuginfo, kind=kind)


@dataclass
class Call:
    """What a function implementation sees: the site, the token and its owner."""

    site: MoodleSite
    token: Token
    caller: User
    function: str = ""
    debug: bool = False
    extra_ms: float = 0.0  # PHP cost on top of the function's base cost (report rows), see _cost.py
    settings: dict[str, str] = field(default_factory=dict)  # moodlewssetting<name> of the request

    # ---------------------------------------------------------------- capabilities
    def can(self, capability: str) -> bool:
        """has_capability() for the token owner (system-level model)."""
        return self.token.can(capability)

    def require(self, capability: str) -> None:
        """require_capability(): raises nopermissions."""
        if not self.token.can(capability):
            raise RequiredCapability(capability)

    # ---------------------------------------------------------------- courses
    def course(self, courseid: int) -> Course:
        """get_course MUST_EXIST."""
        course = self.site.courses.get(courseid)
        if course is None:
            raise MissingRecord("course", f"SELECT * FROM {{course}} WHERE id = ?\n[array (\n  0 => {courseid},\n)]")
        return course

    def sees_hidden(self, course: Course) -> bool:
        """moodle/course:update or moodle/course:viewhiddencourses."""
        return self.can("moodle/course:update") or self.can("moodle/course:viewhiddencourses")

    def enrolled_active(self, course: Course) -> bool:
        """The caller has an active enrolment in the course."""
        return self.site.is_active_in(course.id, self.caller.id)

    def login_problem(self, course: Course) -> str | None:
        """require_login($course) failure text, or None when the caller may enter."""
        if course.id == 1:
            return None
        if not course.visible and not self.sees_hidden(course):
            return "Course or activity not accessible. (Course is hidden)"
        if self.can("moodle/course:view") or self.enrolled_active(course):
            return None
        return "Course or activity not accessible. (Not enrolled)"

    def validate_course(self, course: Course, *, wrap: bool = True) -> None:
        """validate_context(course): errorcoursecontextnotvalid (wrapped) or requireloginerror."""
        problem = self.login_problem(course)
        if problem is None:
            return
        if not wrap:
            raise moodle_error("requireloginerror", problem, kind="require_login_exception")
        raise moodle_error(
            "errorcoursecontextnotvalid",
            f"You cannot execute functions in the course context (course id:{course.id}). "
            f"The context error message was: {problem}")

    # ---------------------------------------------------------------- users
    def active_user(self, userid: int) -> User:
        """core_user::get_user MUST_EXIST + require_active_user."""
        user = self.site.users.get(userid)
        if user is None:
            raise MissingRecord("user", f"SELECT * FROM {{user}} WHERE id = ?\n[array (\n  0 => {userid},\n)]")
        if user.deleted:
            raise moodle_error("userdeleted", "User has been deleted")
        if not user.confirmed:
            raise moodle_error("usernotconfirmed", f"The user {user.username} has not been confirmed")
        if user.username == "guest":
            raise moodle_error("guestsarenotallowed", "The guest user is not allowed to do this")
        return user

    def detail_level(self, user: User, course: Course | None = None) -> int:
        """0 hidden, 1 basic, 2 details, 3 all details (viewalldetails or self)."""
        if user.id == self.caller.id or self.can("moodle/user:viewalldetails"):
            return 3
        if self.can("moodle/user:viewdetails"):
            return 2
        if course is not None and self.can("moodle/course:viewparticipants"):
            return 2
        if course is None and self.shares_course_with_details(user):
            return 2
        return 1 if course is not None else 0

    def shares_course_with_details(self, user: User) -> bool:
        """user_get_user_details_courses(): without system-level user:viewdetails, a user is
        shown when both are active in a course where the caller's role holds it there (the
        default archetypes: editingteacher, teacher, student). Everyone else is left out of
        core_user_get_users silently (OBSERVED-5.0 §6.2)."""
        site = self.site
        for courseid, roles in site.course_roles.items():
            if (_VIEWDETAILS_ROLES & set(roles.get(self.caller.id, ())) and site.is_active_in(courseid, self.caller.id)
                    and site.is_active_in(courseid, user.id)):
                return True
        return False

    def user_details(self, user: User, level: int, fields: frozenset[str] | None = None,
                     course: Course | None = None) -> dict[str, Any]:
        """user_get_user_details() for the given detail level (fields = userfields filter)."""
        site = self.site
        pic = f"{site.wwwroot}/theme/image.php/boost/core/1/u/"
        out: dict[str, Any] = {"id": user.id, "fullname": f"{user.firstname} {user.lastname}",
                               "profileimageurlsmall": pic + "f2", "profileimageurl": pic + "f1"}
        if level >= 2:
            out.update(firstname=user.firstname, lastname=user.lastname, email=user.email,
                       firstaccess=user.firstaccess, lastaccess=user.lastaccess,
                       suspended=user.suspended)
            for key in ("address", "phone1", "phone2", "department", "institution", "interests",
                        "city", "country"):
                value = getattr(user, key)
                if value:
                    out[key] = value
            if user.description:
                out["description"] = user.description
                out["descriptionformat"] = user.descriptionformat
            if user.customfields:
                out["customfields"] = [dict(f) for f in user.customfields]
        if level >= 3:
            out.update(username=user.username, auth=user.auth, confirmed=user.confirmed,
                       lang=user.lang, theme=user.theme, mailformat=user.mailformat,
                       trackforums=user.trackforums)
            if user.idnumber:
                out["idnumber"] = user.idnumber
            if user.timezone != "99":
                out["timezone"] = user.timezone
        if user.id == self.caller.id:
            out["preferences"] = [{"name": "auth_forcepasswordchange", "value": "0"},
                                  {"name": "email_bounce_count", "value": "1"}]
        if course is not None:
            self._course_user_fields(out, user, course, level, fields)
        if fields is not None:
            out = {k: v for k, v in out.items() if k in fields or k in ("id", "fullname")}
        return out

    def _course_user_fields(self, out: dict, user: User, course: Course, level: int,
                           fields: frozenset[str] | None) -> None:
        roles = self.site.course_roles.get(course.id, {}).get(user.id, ())
        out["roles"] = [{"roleid": rid, "name": "", "shortname": ROLES[rid][0], "sortorder": ROLES[rid][1]}
                        for rid in sorted(roles)]
        out["groups"] = []
        if level >= 2 and (fields is None or "lastcourseaccess" in fields):
            out["lastcourseaccess"] = user.lastaccess if user.lastaccess else 0
        if level >= 2 and (fields is None or "enrolledcourses" in fields):
            out["enrolledcourses"] = [
                {"id": c.id, "fullname": c.fullname, "shortname": c.shortname}
                for cid in sorted(self.site.user_courses.get(user.id, ()))
                if (c := self.site.courses.get(cid)) is not None]
