"""Record types of the simulated Canvas database (one slotted dataclass per table) and the
permission names tokens carry (Canvas account-level permission names, see RoleOverride)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Account", "User", "Login", "Term", "Course", "Enrollment", "OutcomeGroup", "Outcome", "OutcomeLink",
    "Progress", "Token", "PERMISSIONS", "ENROLLMENT_TYPES", "BASE_ROLE_IDS", "ENROLLMENT_STATES",
]

# Account-level permissions the simulator checks (names as in Canvas' RoleOverride).
PERMISSIONS = frozenset({
    "read_roster", "read_sis", "manage_sis", "read_email_addresses", "view_user_logins",
    "read_course_list", "read_course_content", "manage_courses_add", "manage_courses_admin",
    "manage_courses_publish", "manage_courses_conclude", "manage_courses_delete",
    "add_student_to_course", "remove_student_from_course", "add_teacher_to_course",
    "remove_teacher_from_course", "read_outcomes", "manage_outcomes", "view_all_grades",
})
ENROLLMENT_TYPES = ("StudentEnrollment", "TeacherEnrollment", "TaEnrollment", "DesignerEnrollment",
                    "ObserverEnrollment")
# Built-in role ids of a fresh root account (the base role of each enrollment type).
BASE_ROLE_IDS = {"StudentEnrollment": 3, "TeacherEnrollment": 4, "TaEnrollment": 5,
                 "DesignerEnrollment": 6, "ObserverEnrollment": 7}
ENROLLMENT_STATES = ("active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted")


@dataclass(slots=True)
class Account:
    """accounts (root account when parent_id is None)."""

    id: int
    name: str
    parent_id: int | None = None
    sis_account_id: str | None = None
    uuid: str = ""
    default_time_zone: str = "Etc/UTC"
    workflow_state: str = "active"


@dataclass(slots=True)
class Login:
    """pseudonyms: a user's login in the root account."""

    id: int
    user_id: int
    unique_id: str
    sis_user_id: str | None = None
    integration_id: str | None = None
    workflow_state: str = "active"   # active | suspended | deleted
    account_id: int = 1
    created_at: int = 0


@dataclass(slots=True)
class User:
    """users plus its primary email (communication channel)."""

    id: int
    name: str
    sortable_name: str
    short_name: str
    email: str | None = None
    workflow_state: str = "registered"   # registered | pre_registered | deleted
    locale: str | None = None
    time_zone: str = "Etc/UTC"
    created_at: int = 0
    last_login: int | None = None
    uuid: str = ""
    bio: str | None = None
    pronouns: str | None = None
    logins: list[Login] = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        """True once the user was deleted."""
        return self.workflow_state == "deleted"

    @property
    def login(self) -> Login | None:
        """The first non-deleted login (what user_json reports), else the first login."""
        for login in self.logins:
            if login.workflow_state != "deleted":
                return login
        return self.logins[0] if self.logins else None


@dataclass(slots=True)
class Term:
    """enrollment_terms."""

    id: int
    name: str
    start_at: int | None = None
    end_at: int | None = None
    sis_term_id: str | None = None
    created_at: int = 0
    workflow_state: str = "active"


@dataclass(slots=True)
class Course:
    """courses (workflow_state: created | claimed | available | completed | deleted)."""

    id: int
    name: str
    course_code: str
    account_id: int
    root_account_id: int = 1
    workflow_state: str = "claimed"
    sis_course_id: str | None = None
    integration_id: str | None = None
    sis_import_id: int | None = None
    enrollment_term_id: int = 1
    uuid: str = ""
    created_at: int = 0
    updated_at: int = 0
    start_at: int | None = None
    end_at: int | None = None
    syllabus_body: str | None = None
    public_description: str | None = None
    default_view: str = "modules"
    time_zone: str = "Etc/UTC"
    locale: str | None = None
    is_public: bool = False
    license: str = "private"
    requirement_count: int = 0   # module completion requirements (0 = not module based)
    section_id: int = 0          # the default section


@dataclass(slots=True)
class Enrollment:
    """enrollments (workflow_state is the API's enrollment_state)."""

    id: int
    user_id: int
    course_id: int
    type: str = "StudentEnrollment"
    workflow_state: str = "active"
    role_id: int = 3
    course_section_id: int = 0
    created_at: int = 0
    updated_at: int = 0
    start_at: int | None = None
    end_at: int | None = None
    completed_at: int | None = None
    last_activity_at: int | None = None
    total_activity_time: int = 0
    sis_import_id: int | None = None
    current_score: float | None = None
    final_score: float | None = None


@dataclass(slots=True)
class Progress:
    """A student's module progress in a course (ContextModuleProgression, summed)."""

    completed: int = 0
    completed_at: int | None = None
    next_item_id: int | None = None


@dataclass(slots=True)
class OutcomeGroup:
    """learning_outcome_groups (parent_id None = the context's root group)."""

    id: int
    context_type: str
    context_id: int
    title: str
    parent_id: int | None = None
    description: str | None = None
    vendor_guid: str | None = None
    workflow_state: str = "active"


@dataclass(slots=True)
class Outcome:
    """learning_outcomes (owned by an account)."""

    id: int
    context_type: str
    context_id: int
    title: str
    display_name: str | None = None
    description: str | None = None
    vendor_guid: str | None = None
    points_possible: float = 5.0
    mastery_points: float = 3.0
    calculation_method: str = "highest"
    calculation_int: int | None = None
    ratings: list[dict] = field(default_factory=lambda: [
        {"description": "Exceeds Expectations", "points": 5.0},
        {"description": "Meets Expectations", "points": 3.0},
        {"description": "Does Not Meet Expectations", "points": 0.0}])


@dataclass(slots=True)
class OutcomeLink:
    """content_tags of type learning_outcome_association: an outcome linked into a group."""

    id: int
    context_type: str
    context_id: int
    group_id: int
    outcome_id: int
    workflow_state: str = "active"


@dataclass(slots=True)
class Token:
    """access_tokens: `permissions` None = account admin (every permission), else the set the
    owner holds on the root account; `expires_at` 0 = never."""

    token: str
    user_id: int
    permissions: frozenset[str] | None = None
    expires_at: int = 0
    purpose: str = "lmsync"

    def can(self, permission: str) -> bool:
        """True when the token's user holds `permission` on the root account."""
        return self.permissions is None or permission in self.permissions

    @property
    def is_account_user(self) -> bool:
        """True when the owner is an account admin of any kind (holds some account permission)."""
        return self.permissions is None or bool(self.permissions)
