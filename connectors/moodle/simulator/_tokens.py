"""Preset web-service tokens (fixed 32-hex strings) and their services/capabilities."""

from __future__ import annotations

from ._model import Token
from ._site import BASE_TIME, MoodleSite

__all__ = [
    "ADMIN_TOKEN", "REDUCED_TOKEN", "RESTRICTED_TOKEN", "EXPIRED_TOKEN", "SUSPENDED_TOKEN",
    "RESTRICTED_CAPABILITIES", "REDUCED_EXCLUDED", "install_tokens",
]

ADMIN_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
REDUCED_TOKEN = "1a2b3c4d5e6f708192a3b4c5d6e7f801"
RESTRICTED_TOKEN = "2b3c4d5e6f708192a3b4c5d6e7f80912"
EXPIRED_TOKEN = "3c4d5e6f708192a3b4c5d6e7f8091a23"
SUSPENDED_TOKEN = "4d5e6f708192a3b4c5d6e7f8091a2b34"

# What the restricted token's user holds (system level). Notably absent:
# moodle/course:update, moodle/course:viewhiddencourses, moodle/user:viewdetails,
# moodle/user:viewalldetails, moodle/grade:*, moodle/course:overridecompletion, moodle/category:manage.
RESTRICTED_CAPABILITIES = frozenset({
    "moodle/course:view", "moodle/course:viewparticipants", "moodle/course:enrolreview",
    "moodle/category:viewhiddencategories", "moodle/competency:competencyview",
    "moodle/competency:coursecompetencyview", "report/completion:view", "report/progress:view",
    "gradereport/user:view", "enrol/manual:enrol", "enrol/manual:unenrol", "moodle/role:assign",
    "moodle/course:create", "moodle/site:viewfullnames", "webservice/rest:use",
})

# Functions missing from the reduced token's service.
REDUCED_EXCLUDED = frozenset({
    "core_competency_count_competencies", "core_competency_count_competencies_in_course",
    "core_competency_list_competencies", "core_competency_list_competency_frameworks",
    "core_competency_list_course_competencies", "core_competency_read_competency",
    "core_competency_read_competency_framework", "core_completion_get_course_completion_status",
})


def install_tokens(site: MoodleSite, all_functions: frozenset[str], *, admin: int = 2,
                   restricted: int = 3, suspended: int = 4) -> None:
    """Register the five preset tokens on `site` (owners given by user id)."""
    site.add_token(Token(ADMIN_TOKEN, admin, functions=all_functions, service="lmsync_full"))
    site.add_token(Token(REDUCED_TOKEN, admin, functions=all_functions - REDUCED_EXCLUDED,
                         service="lmsync_reduced"))
    site.add_token(Token(RESTRICTED_TOKEN, restricted, functions=all_functions,
                         capabilities=RESTRICTED_CAPABILITIES, assignable_roles=frozenset({5}),
                         service="lmsync_full"))
    site.add_token(Token(EXPIRED_TOKEN, admin, functions=all_functions, validuntil=BASE_TIME,
                         service="lmsync_full"))
    site.add_token(Token(SUSPENDED_TOKEN, suspended, functions=all_functions, service="lmsync_full"))
