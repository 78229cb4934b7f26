"""Record types of the simulated Moodle database (one slotted dataclass per table)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "User", "Category", "Course", "Section", "CourseModule", "GradeItem", "Grade",
    "EnrolInstance", "UserEnrolment", "CMCompletion", "Framework", "Competency",
    "CourseCompetency", "Token", "Report", "ROLES", "ALL_CAPABILITIES",
]

# Standard role ids of a default install: id -> (shortname, sortorder).
ROLES = {1: ("manager", 1), 2: ("coursecreator", 2), 3: ("editingteacher", 3), 4: ("teacher", 4),
         5: ("student", 5), 6: ("guest", 6), 7: ("user", 7), 8: ("frontpage", 8)}

ALL_CAPABILITIES = None  # sentinel: a site admin has every capability


@dataclass(slots=True)
class User:
    """mdl_user."""

    id: int
    username: str
    firstname: str
    lastname: str
    email: str
    idnumber: str = ""
    auth: str = "manual"
    confirmed: bool = True
    suspended: bool = False
    deleted: bool = False
    lang: str = "en"
    timezone: str = "99"
    city: str = ""
    country: str = ""
    institution: str = ""
    department: str = ""
    phone1: str = ""
    phone2: str = ""
    address: str = ""
    description: str = ""
    descriptionformat: int = 1
    firstaccess: int = 0
    lastaccess: int = 0
    interests: str = ""
    mailformat: int = 1
    theme: str = ""
    trackforums: int = 0
    timecreated: int = 0
    timemodified: int = 0
    #: custom profile field data as user_get_user_details() answers it:
    #: ``[{type, value, displayvalue, name, shortname}]`` (none by default)
    customfields: list[dict] = field(default_factory=list)


@dataclass(slots=True)
class Category:
    """mdl_course_categories."""

    id: int
    name: str
    idnumber: str | None
    description: str
    parent: int
    sortorder: int
    depth: int
    path: str
    descriptionformat: int = 1
    visible: int = 1
    visibleold: int = 1
    timemodified: int = 0
    theme: str = ""


@dataclass(slots=True)
class Section:
    """mdl_course_sections."""

    id: int
    course: int
    section: int
    name: str
    summary: str = ""
    summaryformat: int = 1
    visible: int = 1
    cmids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Course:
    """mdl_course plus its sections and completion criteria."""

    id: int
    category: int
    fullname: str
    shortname: str
    idnumber: str = ""
    summary: str = ""
    summaryformat: int = 1
    format: str = "topics"
    showgrades: int = 1
    newsitems: int = 5
    startdate: int = 0
    enddate: int = 0
    maxbytes: int = 0
    showreports: int = 0
    visible: int = 1
    visibleold: int = 1
    groupmode: int = 0
    groupmodeforce: int = 0
    defaultgroupingid: int = 0
    timecreated: int = 0
    timemodified: int = 0
    enablecompletion: int = 1
    completionnotify: int = 0
    lang: str = ""
    theme: str = ""
    marker: int = 0
    sortorder: int = 0
    hiddensections: int = 0
    numsections: int = 0
    showactivitydates: bool = True
    showcompletionconditions: bool = True
    cacherev: int = 0
    contextid: int = 0
    sections: list[Section] = field(default_factory=list)
    criteria_cmids: list[int] = field(default_factory=list)
    aggregation: int = 1


@dataclass(slots=True)
class CourseModule:
    """mdl_course_modules (one activity)."""

    id: int
    course: int
    modname: str
    instance: int
    name: str
    section: int
    contextid: int = 0
    visible: int = 1
    completion: int = 0
    completionpassgrade: bool = False
    gradeitemid: int | None = None
    added: int = 0


@dataclass(slots=True)
class GradeItem:
    """mdl_grade_items."""

    id: int
    courseid: int
    itemtype: str
    itemname: str
    itemmodule: str = ""
    iteminstance: int = 0
    itemnumber: int = 0
    idnumber: str = ""
    categoryid: int = 0
    grademax: float = 100.0
    grademin: float = 0.0
    gradepass: float = 0.0
    cmid: int | None = None
    hidden: bool = False
    locked: bool = False
    sortorder: int = 0


@dataclass(slots=True)
class Grade:
    """mdl_grade_grades."""

    rawgrade: float | None
    finalgrade: float | None
    timemodified: int
    feedback: str = ""


@dataclass(slots=True)
class EnrolInstance:
    """mdl_enrol."""

    id: int
    courseid: int
    enrol: str
    status: int = 0
    roleid: int = 5


@dataclass(slots=True)
class UserEnrolment:
    """mdl_user_enrolments."""

    id: int
    enrolid: int
    userid: int
    status: int = 0
    timestart: int = 0
    timeend: int = 0
    timecreated: int = 0
    timemodified: int = 0


@dataclass(slots=True)
class CMCompletion:
    """mdl_course_modules_completion."""

    state: int
    timemodified: int
    overrideby: int | None = None


@dataclass(slots=True)
class Framework:
    """mdl_competency_framework."""

    id: int
    shortname: str
    idnumber: str
    description: str = ""
    descriptionformat: int = 1
    visible: bool = True
    scaleid: int = 2
    scaleconfiguration: str = '[{"scaleid":"2"},{"id":1,"scaledefault":1,"proficient":1}]'
    contextid: int = 1
    taxonomies: str = "competency,competency,competency,competency"
    timecreated: int = 0
    timemodified: int = 0
    usermodified: int = 2


@dataclass(slots=True)
class Competency:
    """mdl_competency."""

    id: int
    competencyframeworkid: int
    shortname: str
    idnumber: str
    description: str = ""
    descriptionformat: int = 1
    sortorder: int = 0
    parentid: int = 0
    path: str = "/0/"
    ruleoutcome: int = 0
    ruletype: str | None = None
    ruleconfig: str | None = None
    scaleid: int | None = None
    scaleconfiguration: str | None = None
    timecreated: int = 0
    timemodified: int = 0
    usermodified: int = 2


@dataclass(slots=True)
class CourseCompetency:
    """mdl_competency_coursecomp."""

    id: int
    courseid: int
    competencyid: int
    sortorder: int = 0
    ruleoutcome: int = 1
    timecreated: int = 0
    timemodified: int = 0
    usermodified: int = 2


@dataclass(slots=True)
class Report:
    """A report builder custom report: headers and pre-rendered rows."""

    id: int
    name: str
    headers: list[str]
    rows: list[list[str]]
    source: str = "core_course\\reportbuilder\\datasource\\participants"


@dataclass(slots=True)
class Token:
    """mdl_external_tokens + its service + the owner's capabilities.

    `functions` None = every registered function; `capabilities` None = site admin.
    """

    token: str
    userid: int
    functions: frozenset[str] | None = None
    capabilities: frozenset[str] | None = None
    validuntil: int = 0
    iprestriction: str = ""
    service: str = "lmsync"
    service_enabled: bool = True
    assignable_roles: frozenset[int] = frozenset({1, 3, 4, 5})

    @property
    def is_admin(self) -> bool:
        """True for a site admin token (all capabilities)."""
        return self.capabilities is None

    def can(self, capability: str) -> bool:
        """has_capability() at system level."""
        return self.capabilities is None or capability in self.capabilities
