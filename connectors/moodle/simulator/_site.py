"""`MoodleSite`: the in-memory Moodle database, its indexes and mutation helpers.

Ids are auto-increment per table like Moodle. Every mutation bumps `rev`, which drops the
response caches kept by the function implementations.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from typing import Any

from ._cost import PhpCost
from ._model import (Category, CMCompletion, Competency, Course, CourseCompetency, CourseModule,
                     EnrolInstance, Framework, Grade, GradeItem, Report, Section, Token, User,
                     UserEnrolment)

__all__ = ["MoodleSite", "BASE_TIME", "COMPLETE_STATES"]

BASE_TIME = 1735689600  # 2025-01-01 00:00:00 UTC: fixed "past" used by generated data
COMPLETE_STATES = (1, 2, 3)
_GRADED = ("assign", "quiz", "lesson", "workshop")


class MoodleSite:
    """All simulated site state; see `generate()` / `tiny_site()` for ready-made data."""

    def __init__(self, *, sitename: str = "lmsync Moodle simulator",
                 wwwroot: str = "http://127.0.0.1", fixed_now: int | None = None) -> None:
        self.sitename = sitename
        self.wwwroot = wwwroot
        self.fixed_now = fixed_now
        self.rest_enabled = True
        self.admin_ids: set[int] = {2}
        self.completion_enabled = True
        self.competencies_enabled = True
        self.timezone = "UTC"  # $CFG->timezone: userdate() zone of users whose timezone is "99"
        self.forcetimezone = ""  # $CFG->forcetimezone: when set, overrides every user's timezone
        self.php_cost = PhpCost()  # estimated Moodle PHP time spent answering calls (see _cost.py)
        # installed child language packs whose strftime*datetime strings are "%s": requested as
        # moodlewssettinglang=<pack>, report dates come back as epoch seconds (BULK-READS.md §2)
        self.epoch_date_langs: set[str] = set()
        self.rev = 0
        self._seq: dict[str, int] = defaultdict(int)
        self.users: dict[int, User] = {}
        self.username_index: dict[str, int] = {}
        self.categories: dict[int, Category] = {}
        self.courses: dict[int, Course] = {}
        self.shortname_index: dict[str, int] = {}
        self.idnumber_index: dict[str, int] = {}
        self.cms: dict[int, CourseModule] = {}
        self.contexts: dict[int, tuple[int, int]] = {1: (10, 0)}
        self.context_index: dict[tuple[int, int], int] = {(10, 0): 1}
        self._seq["context"] = 1
        self.enrol_instances: dict[int, EnrolInstance] = {}
        self.course_instances: dict[int, list[EnrolInstance]] = defaultdict(list)
        self.course_enrolments: dict[int, dict[int, list[UserEnrolment]]] = defaultdict(dict)
        self.user_courses: dict[int, set[int]] = defaultdict(set)
        self.course_roles: dict[int, dict[int, set[int]]] = defaultdict(dict)
        self.other_roles: set[tuple[int, int, int]] = set()
        self.cm_completion: dict[tuple[int, int], CMCompletion] = {}
        self.course_completions: dict[tuple[int, int], int] = {}
        self.grade_items: dict[int, GradeItem] = {}
        self.course_grade_items: dict[int, list[GradeItem]] = defaultdict(list)
        self.grades: dict[tuple[int, int], Grade] = {}
        self.frameworks: dict[int, Framework] = {}
        self.competencies: dict[int, Competency] = {}
        self.framework_competencies: dict[int, list[int]] = defaultdict(list)
        self.course_competencies: dict[int, list[CourseCompetency]] = defaultdict(list)
        self.reports: dict[int, Report] = {}
        self.tokens: dict[str, Token] = {}
        self.cache: dict[Any, Any] = {}

    @classmethod
    def generate(cls, seed: int = 0, users: int = 200, courses: int = 20, enrolments_per_course: int = 10,
                 frameworks: int = 2, competencies_per_framework: int = 20, course_competencies: int = 3,
                 hidden_course_rate: float = 0.05, suspended_user_rate: float = 0.02,
                 suspended_enrolment_rate: float = 0.05,
                 completion_mix: tuple[float, ...] = (0.30, 0.30, 0.10, 0.05, 0.25),
                 deleted_users: int = 2) -> "MoodleSite":
        """Deterministic seeded site (same seed and sizes → same data).

        Users 1 guest, 2 admin, 3 wsrestricted, 4 wssuspended, then `users` generated ones
        (`deleted_users` of them deleted). Categories 1-4, site course id 1, then `courses`
        courses: every 10th (idx%10==3) has completion disabled, idx%10==5 has no grade items,
        idx%20==9 has no enrolments, idx%5==4 has no competencies. `completion_mix` = fractions
        of student enrolments that are not started / in progress / complete-pass (not yet
        aggregated) / complete-fail (not aggregated) / course completed (aggregated).
        """
        from ._generate import generate_site
        return generate_site(seed, users, courses, enrolments_per_course, frameworks,
                             competencies_per_framework, course_competencies, hidden_course_rate,
                             suspended_user_rate, suspended_enrolment_rate, completion_mix, deleted_users)

    # ------------------------------------------------------------------ basics
    def now(self) -> int:
        """Current unix time (or `fixed_now` when set, for reproducible tests)."""
        return self.fixed_now if self.fixed_now is not None else int(time.time())

    def next_id(self, table: str) -> int:
        """Auto-increment id for `table`."""
        self._seq[table] += 1
        return self._seq[table]

    def touch(self) -> None:
        """Record a mutation: invalidates cached responses."""
        self.rev += 1
        self.cache.clear()

    def context_id(self, level: int, instanceid: int, create: bool = True) -> int | None:
        """Context id of (contextlevel, instanceid); created on demand."""
        key = (level, instanceid)
        ctx = self.context_index.get(key)
        if ctx is None and create:
            ctx = self.next_id("context")
            self.context_index[key] = ctx
            self.contexts[ctx] = key
        return ctx

    # ------------------------------------------------------------------ users
    def add_user(self, username: str, firstname: str, lastname: str, email: str, **fields: Any) -> User:
        """Create a user; returns the record."""
        uid = fields.pop("id", None) or self.next_id("user")
        self._seq["user"] = max(self._seq["user"], uid)
        user = User(uid, username, firstname, lastname, email, **fields)
        self.users[uid] = user
        self.username_index[username] = uid
        self.touch()
        return user

    def update_user(self, userid: int, **fields: Any) -> User:
        """Change user fields."""
        user = self.users[userid]
        if "username" in fields:
            self.username_index.pop(user.username, None)
            self.username_index[fields["username"]] = userid
        for key, value in fields.items():
            setattr(user, key, value)
        self.touch()
        return user

    def suspend_user(self, userid: int, suspended: bool = True) -> None:
        """Suspend (or reactivate) a user account."""
        self.update_user(userid, suspended=suspended)

    def delete_user(self, userid: int) -> None:
        """Delete like Moodle: rename, clear idnumber, drop enrolments, keep the row (deleted=1)."""
        user = self.users[userid]
        stamp = self.now()
        for courseid in list(self.user_courses.get(userid, ())):
            self.unenrol(courseid, userid)
        self.username_index.pop(user.username, None)
        user.username = f"{user.email}.{stamp}"
        user.email = hashlib.md5(user.username.encode()).hexdigest()
        user.idnumber = ""
        user.deleted = True
        self.touch()

    def live_user(self, userid: int) -> User | None:
        """The non-deleted user with that id, if any."""
        user = self.users.get(userid)
        return user if user is not None and not user.deleted else None

    # ------------------------------------------------------------------ categories/courses
    def add_category(self, name: str, parent: int = 0, idnumber: str | None = "", **fields: Any) -> Category:
        """Create a course category."""
        cid = self.next_id("course_categories")
        parent_cat = self.categories.get(parent)
        path = (parent_cat.path if parent_cat else "") + f"/{cid}"
        cat = Category(cid, name, idnumber, fields.pop("description", ""), parent,
                       fields.pop("sortorder", cid * 10000), path.count("/"), path, **fields)
        self.categories[cid] = cat
        self.context_id(40, cid)
        self.touch()
        return cat

    def add_course(self, fullname: str, shortname: str, category: int = 1, *,
                   manual_enrol: bool = True, sections: int = 1, **fields: Any) -> Course:
        """Create a course with `sections` (+ section 0) and a manual enrol instance."""
        cid = self.next_id("course")
        course = Course(cid, category, fullname, shortname, **fields)
        if not course.timecreated:
            course.timecreated = course.timemodified = self.now()
        course.contextid = self.context_id(50, cid)
        self.courses[cid] = course
        self.shortname_index[shortname] = cid
        if course.idnumber:
            self.idnumber_index[course.idnumber] = cid
        for num in range(sections + 1):
            course.sections.append(Section(self.next_id("course_sections"), cid, num,
                                           "" if num == 0 else f"Topic {num}"))
        course.numsections = sections
        if manual_enrol:
            self.add_enrol_instance(cid, "manual")
        self.touch()
        return course

    def update_course(self, courseid: int, **fields: Any) -> Course:
        """Change course fields (keeps the shortname/idnumber indexes)."""
        course = self.courses[courseid]
        if "shortname" in fields:
            self.shortname_index.pop(course.shortname, None)
            self.shortname_index[fields["shortname"]] = courseid
        if "idnumber" in fields:
            self.idnumber_index.pop(course.idnumber, None)
            if fields["idnumber"]:
                self.idnumber_index[fields["idnumber"]] = courseid
        for key, value in fields.items():
            setattr(course, key, value)
        course.timemodified = max(self.now(), course.timemodified)
        self.touch()
        return course

    def hide_course(self, courseid: int, hidden: bool = True) -> None:
        """Hide (visible=0) or show a course."""
        self.update_course(courseid, visible=0 if hidden else 1)

    def delete_course(self, courseid: int) -> None:
        """Delete a course and everything hanging off it."""
        course = self.courses.pop(courseid)
        self.shortname_index.pop(course.shortname, None)
        self.idnumber_index.pop(course.idnumber, None)
        for userid in list(self.course_enrolments.get(courseid, {})):
            self.user_courses[userid].discard(courseid)
        self.course_enrolments.pop(courseid, None)
        self.course_roles.pop(courseid, None)
        for inst in self.course_instances.pop(courseid, []):
            self.enrol_instances.pop(inst.id, None)
        for section in course.sections:
            for cmid in section.cmids:
                self.cms.pop(cmid, None)
        for item in self.course_grade_items.pop(courseid, []):
            self.grade_items.pop(item.id, None)
        self.course_competencies.pop(courseid, None)
        self.touch()

    def add_module(self, courseid: int, modname: str, name: str, *, section: int = 1,
                   completion: int = 2, graded: bool | None = None, gradepass: float = 50.0,
                   criterion: bool = True) -> CourseModule:
        """Add an activity; graded modules get a grade item (and the course total item)."""
        course = self.courses[courseid]
        sec = course.sections[min(section, len(course.sections) - 1)]
        cm = CourseModule(self.next_id("course_modules"), courseid, modname,
                          self.next_id(modname), name, sec.id, completion=completion,
                          added=course.timecreated)
        cm.contextid = self.context_id(70, cm.id)
        sec.cmids.append(cm.id)
        self.cms[cm.id] = cm
        if graded if graded is not None else modname in _GRADED:
            cm.completionpassgrade = completion == 2
            items = self.course_grade_items[courseid]
            if not items:
                items.append(GradeItem(self.next_id("grade_items"), courseid, "course", "",
                                       categoryid=0, sortorder=1))
            item = GradeItem(self.next_id("grade_items"), courseid, "mod", name, modname,
                             cm.instance, 0, gradepass=gradepass, cmid=cm.id, sortorder=len(items) + 1)
            items.append(item)
            self.grade_items[item.id] = item
            cm.gradeitemid = item.id
        if completion and criterion:
            course.criteria_cmids.append(cm.id)
        self.touch()
        return cm

    # ------------------------------------------------------------------ enrolment
    def add_enrol_instance(self, courseid: int, enrol: str = "manual", status: int = 0) -> EnrolInstance:
        """Add an enrol instance (status 0 enabled, 1 disabled)."""
        inst = EnrolInstance(self.next_id("enrol"), courseid, enrol, status)
        self.enrol_instances[inst.id] = inst
        self.course_instances[courseid].append(inst)
        self.touch()
        return inst

    def manual_instance(self, courseid: int, enabled_only: bool = True) -> EnrolInstance | None:
        """The course's manual enrol instance (enabled only, by default)."""
        for inst in self.course_instances.get(courseid, ()):
            if inst.enrol == "manual" and (inst.status == 0 or not enabled_only):
                return inst
        return None

    def enrol(self, courseid: int, userid: int, roleid: int = 5, *, status: int = 0,
              timestart: int = 0, timeend: int = 0, timecreated: int | None = None,
              instance: EnrolInstance | None = None) -> UserEnrolment:
        """Enrol (or re-enrol: update) a user through the manual instance and assign the role."""
        inst = instance or self.manual_instance(courseid, enabled_only=False)
        if inst is None:
            inst = self.add_enrol_instance(courseid, "manual")
        per_user = self.course_enrolments[courseid].setdefault(userid, [])
        now = self.now()
        for ue in per_user:
            if ue.enrolid == inst.id:
                ue.status, ue.timestart, ue.timeend, ue.timemodified = status, timestart, timeend, now
                break
        else:
            created = now if timecreated is None else timecreated
            ue = UserEnrolment(self.next_id("user_enrolments"), inst.id, userid, status,
                               timestart, timeend, created, created)
            per_user.append(ue)
        self.user_courses[userid].add(courseid)
        self.course_roles[courseid].setdefault(userid, set()).add(roleid)
        self.touch()
        return ue

    def unenrol(self, courseid: int, userid: int) -> None:
        """Remove every enrolment and course role of the user in the course."""
        self.course_enrolments.get(courseid, {}).pop(userid, None)
        self.user_courses.get(userid, set()).discard(courseid)
        self.course_roles.get(courseid, {}).pop(userid, None)
        self.touch()

    def is_active_enrolment(self, ue: UserEnrolment, now: int | None = None) -> bool:
        """Active status, enabled instance and inside the time window."""
        now = self.now() if now is None else now
        inst = self.enrol_instances.get(ue.enrolid)
        return (ue.status == 0 and inst is not None and inst.status == 0 and ue.timestart <= now
                and (ue.timeend == 0 or ue.timeend > now))

    def is_active_in(self, courseid: int, userid: int, now: int | None = None) -> bool:
        """True when the user has at least one active enrolment in the course."""
        return any(self.is_active_enrolment(ue, now)
                   for ue in self.course_enrolments.get(courseid, {}).get(userid, ()))

    def set_enrolment_status(self, courseid: int, userid: int, suspended: bool) -> None:
        """Suspend or reactivate all enrolments of a user in a course."""
        for ue in self.course_enrolments[courseid][userid]:
            ue.status = 1 if suspended else 0
        self.touch()

    # ------------------------------------------------------------------ completion/grades
    def set_activity_state(self, cmid: int, userid: int, state: int, *,
                           timecompleted: int | None = None, overrideby: int | None = None) -> None:
        """Write an activity completion row (state 0..3)."""
        self.cm_completion[(cmid, userid)] = CMCompletion(
            state, self.now() if timecompleted is None else timecompleted, overrideby)
        self.touch()

    def activity_state(self, cmid: int, userid: int) -> CMCompletion | None:
        """The completion row, if any."""
        return self.cm_completion.get((cmid, userid))

    def set_grade(self, itemid: int, userid: int, grade: float | None, when: int | None = None) -> None:
        """Set raw and final grade of a user on a grade item."""
        self.grades[(itemid, userid)] = Grade(grade, grade, self.now() if when is None else when)
        self.touch()

    def course_complete_ready(self, course: Course, userid: int) -> bool:
        """All criteria activities are in a complete state (1, 2 or 3)."""
        if not course.criteria_cmids:
            return False
        done = [self.cm_completion.get((cmid, userid)) for cmid in course.criteria_cmids]
        flags = [rec is not None and rec.state in COMPLETE_STATES for rec in done]
        return all(flags) if course.aggregation == 1 else any(flags)

    def run_cron(self) -> int:
        """The completion cron: aggregate course completions; returns how many were added."""
        added, now = 0, self.now()
        for course in self.courses.values():
            if course.id == 1 or not course.enablecompletion or not course.criteria_cmids:
                continue
            for userid in self.course_enrolments.get(course.id, {}):
                key = (course.id, userid)
                if key not in self.course_completions and self.course_complete_ready(course, userid):
                    self.course_completions[key] = now
                    added += 1
        self.touch()
        return added

    # ------------------------------------------------------------------ competencies
    def add_framework(self, shortname: str, idnumber: str, **fields: Any) -> Framework:
        """Create a competency framework."""
        fw = Framework(self.next_id("competency_framework"), shortname, idnumber, **fields)
        fw.timecreated = fw.timecreated or self.now()
        fw.timemodified = fw.timemodified or fw.timecreated
        self.frameworks[fw.id] = fw
        self.touch()
        return fw

    def add_competency(self, frameworkid: int, shortname: str, idnumber: str,
                       parentid: int = 0, **fields: Any) -> Competency:
        """Create a competency (path derived from the parent)."""
        parent = self.competencies.get(parentid)
        path = f"{parent.path}{parent.id}/" if parent else "/0/"
        siblings = [c for c in self.framework_competencies[frameworkid]
                    if self.competencies[c].parentid == parentid]
        comp = Competency(self.next_id("competency"), frameworkid, shortname, idnumber,
                          parentid=parentid, path=path, sortorder=len(siblings), **fields)
        comp.timecreated = comp.timecreated or self.now()
        comp.timemodified = comp.timemodified or comp.timecreated
        self.competencies[comp.id] = comp
        self.framework_competencies[frameworkid].append(comp.id)
        self.touch()
        return comp

    def remove_competency(self, competencyid: int) -> None:
        """Delete a competency and its course links."""
        comp = self.competencies.pop(competencyid)
        self.framework_competencies[comp.competencyframeworkid].remove(competencyid)
        for links in self.course_competencies.values():
            links[:] = [link for link in links if link.competencyid != competencyid]
        self.touch()

    def add_course_competency(self, courseid: int, competencyid: int, ruleoutcome: int = 1,
                              when: int | None = None) -> CourseCompetency:
        """Link a competency to a course (appended in sortorder)."""
        links = self.course_competencies[courseid]
        stamp = self.now() if when is None else when
        link = CourseCompetency(self.next_id("competency_coursecomp"), courseid, competencyid,
                                len(links), ruleoutcome, stamp, stamp)
        links.append(link)
        self.touch()
        return link

    def remove_course_competency(self, courseid: int, competencyid: int) -> None:
        """Unlink a competency from a course."""
        links = self.course_competencies[courseid]
        links[:] = [link for link in links if link.competencyid != competencyid]
        self.touch()

    # ------------------------------------------------------------------ reports/tokens
    def add_report(self, name: str, headers: list[str], rows: list[list[str]]) -> Report:
        """Register a custom report for core_reportbuilder_retrieve_report."""
        report = Report(self.next_id("reportbuilder_report"), name, headers, rows)
        self.reports[report.id] = report
        return report

    def add_token(self, token: Token) -> Token:
        """Register a web-service token."""
        self.tokens[token.token] = token
        return token
