"""`tiny_site()`: the small fixed site golden tests rely on (keep it stable)."""

from __future__ import annotations

from ._site import BASE_TIME, MoodleSite

__all__ = ["tiny_site", "TINY_NOW"]

DAY = 86400
TINY_NOW = BASE_TIME + 165 * DAY  # 2025-06-15: the site's fixed clock


def _users(site: MoodleSite) -> None:
    site.add_user("guest", "Guest user", " ", "root@localhost")
    site.add_user("admin", "Admin", "User", "admin@example.com", city="Berlin", country="DE",
                  firstaccess=BASE_TIME, lastaccess=BASE_TIME + 100 * DAY)
    site.add_user("wsrestricted", "Rita", "Restricted", "rita.restricted@example.com")
    site.add_user("wssuspended", "Sam", "Suspended", "sam.suspended@example.com", suspended=True)
    site.add_user("student01", "Jürgen", "Müller", "juergen.mueller@example.com", idnumber="S01",
                  city="Zürich", country="CH", firstaccess=BASE_TIME + DAY, lastaccess=BASE_TIME + 90 * DAY,
                  description="<p>Likes <em>languages</em> – and “tea”.</p>")
    site.add_user("student02", "Zoë", "O'Brien", "zoe.obrien@example.com", idnumber="S02",
                  firstaccess=BASE_TIME + 2 * DAY, lastaccess=BASE_TIME + 80 * DAY)
    site.add_user("student03", "José", "Núñez", "jose.nunez@example.com", idnumber="S03")
    site.add_user("student04", "Ngozi", "Okafor", "ngozi.okafor@example.com", institution="Université Libre")
    site.add_user("student05", "Wei", "Zhang", "wei.zhang@example.com")
    site.add_user("teacher01", "Tara", "Teacher", "tara.teacher@example.com", idnumber="T01")
    deleted = site.add_user("deleted01", "Dana", "Deleted", "dana.deleted@example.com")
    site.fixed_now = BASE_TIME + 10 * DAY
    site.delete_user(deleted.id)
    site.fixed_now = TINY_NOW


def _courses(site: MoodleSite) -> None:
    site.add_category("Category 1", idnumber=None)
    site.add_category("Languages", idnumber="CAT-LANG", description="<p>Language courses</p>")
    start = BASE_TIME + 30 * DAY
    common = {"startdate": start, "timecreated": BASE_TIME, "timemodified": BASE_TIME + DAY}
    site.add_course("Tiny Moodle", "tiny", 0, manual_enrol=False, sections=0, format="site",
                    summary="", enablecompletion=0, startdate=0, timecreated=BASE_TIME - DAY,
                    timemodified=BASE_TIME - DAY)
    eng = site.add_course("English for Beginners", "ENG101", 2, idnumber="CRS-ENG101", sections=2,
                          summary="<p>Start <strong>speaking</strong> – today &amp; tomorrow.</p>",
                          enddate=start + 120 * DAY, **common)
    site.add_module(eng.id, "forum", "Announcements", section=0, completion=0, graded=False)
    site.add_module(eng.id, "page", "Welcome reading", completion=1)
    site.add_module(eng.id, "assign", "Essay", completion=2)
    site.add_module(eng.id, "quiz", "Vocabulary quiz", section=2, completion=2)
    bus = site.add_course("Business Basics", "BUS220", 1, idnumber="CRS-BUS220", visible=0, **common)
    site.add_module(bus.id, "page", "Syllabus", completion=1)
    site.add_module(bus.id, "assign", "Case study", completion=2)
    adv = site.add_course("Business Strategy", "BUS400", 1, idnumber="", enablecompletion=0, **common)
    site.add_module(adv.id, "assign", "Strategy paper", completion=0)
    empty = site.add_course("Empty Course", "EMPTY1", 2, idnumber="CRS-EMPTY", **common)
    site.add_module(empty.id, "page", "Nothing here yet", completion=1, criterion=False)


def _enrolments(site: MoodleSite) -> None:
    t0 = BASE_TIME + 20 * DAY
    for uid in (5, 6, 7, 8, 9):
        site.enrol(2, uid, 5, timestart=BASE_TIME + 30 * DAY, timecreated=t0)
    site.enrol(2, 10, 3, timecreated=t0)
    site.enrol(3, 5, 5, timecreated=t0)
    site.enrol(3, 6, 5, status=1, timecreated=t0)
    site.enrol(4, 5, 5, timecreated=t0)
    site.enrol(4, 6, 5, timecreated=t0)
    site.enrol(4, 4, 5, timecreated=t0)
    page, essay, quiz = 2, 3, 4  # ENG101 criteria cmids (forum = 1 is untracked)
    done = BASE_TIME + 40 * DAY
    for cmid, state, grade in ((page, 1, None), (essay, 2, 82.0), (quiz, 2, 74.0)):
        site.set_activity_state(cmid, 5, state, timecompleted=done + cmid)
        if grade is not None:
            site.set_grade(site.cms[cmid].gradeitemid, 5, grade, when=done + cmid)
    site.course_completions[(2, 5)] = done + 3 * DAY
    site.set_activity_state(page, 6, 1, timecompleted=done + 10)
    for cmid, state, grade in ((page, 1, None), (essay, 3, 30.0), (quiz, 2, 60.0)):
        site.set_activity_state(cmid, 7, state, timecompleted=done + 20 + cmid)
        if grade is not None:
            site.set_grade(site.cms[cmid].gradeitemid, 7, grade, when=done + 20 + cmid)
    for cmid, state, grade in ((page, 1, None), (essay, 2, 90.0), (quiz, 2, 88.0)):
        site.set_activity_state(cmid, 8, state, timecompleted=done + 30 + cmid)
        if grade is not None:
            site.set_grade(site.cms[cmid].gradeitemid, 8, grade, when=done + 30 + cmid)
    site.set_activity_state(5, 5, 1, timecompleted=done + 50)  # BUS220 syllabus


def _competencies(site: MoodleSite) -> None:
    when = BASE_TIME - 50 * DAY
    digi = site.add_framework("Digital Skills", "DIGI", description="<p>Digital skills</p>",
                              timecreated=when)
    comm = site.add_competency(digi.id, "Communication", "DIGI-COMM", timecreated=when)
    written = site.add_competency(digi.id, "Written communication", "DIGI-COMM-W", comm.id,
                                  timecreated=when, description="<p>Clear writing</p>")
    solve = site.add_competency(digi.id, "Problem solving", "DIGI-PS", timecreated=when)
    site.add_competency(digi.id, "Teamwork", "DIGI-TEAM", timecreated=when)
    cefr = site.add_framework("Languages CEFR", "CEFR", timecreated=when)
    a1 = site.add_competency(cefr.id, "A1 Beginner", "CEFR-A1", timecreated=when)
    site.add_competency(cefr.id, "A2 Elementary", "CEFR-A2", timecreated=when)
    site.add_course_competency(2, a1.id, 3, when=BASE_TIME + DAY)
    site.add_course_competency(2, written.id, 1, when=BASE_TIME + DAY)
    site.add_course_competency(3, solve.id, 1, when=BASE_TIME + DAY)


def tiny_site() -> MoodleSite:
    """A small fixed site for golden tests (clock fixed at `TINY_NOW` = 2025-06-15).

    Users: 1 guest, 2 admin (ADMIN/REDUCED/EXPIRED token owner), 3 wsrestricted (RESTRICTED
    token), 4 wssuspended (suspended account, SUSPENDED token), 5 student01 Jürgen Müller,
    6 student02 Zoë O'Brien, 7 student03 José Núñez, 8 student04 Ngozi Okafor,
    9 student05 Wei Zhang, 10 teacher01, 11 deleted01 (deleted).
    Categories: 1 "Category 1" (idnumber null), 2 "Languages" (CAT-LANG).
    Courses: 1 site course "tiny" (format site);
    2 ENG101 (cat 2, completion on; cms 1 forum untracked, 2 page manual, 3 assign auto graded,
    4 quiz auto graded; criteria = cms 2,3,4): students 5-9, teacher 10.
    user 5 = all complete + course completed (aggregated), 6 = in progress (page), 7 =
    complete-fail (essay state 3, not aggregated), 8 = complete-pass (not aggregated until
    `run_cron()`), 9 = not started. Competencies CEFR-A1 and DIGI-COMM-W.
    3 BUS220 hidden (cat 1; cms 5 page, 6 assign): user 5 active, user 6 SUSPENDED enrolment;
    competency DIGI-PS.
    4 BUS400 (completion disabled, no competencies; cm 7 assign untracked): users 4, 5, 6.
    5 EMPTY1 (no enrolments, no grade items, no criteria; cm 8 page).
    Frameworks: 1 DIGI (COMM, COMM-W child of COMM, PS, TEAM), 2 CEFR (A1, A2).
    Every course except the site course has an enabled manual enrol instance.
    """
    from ._registry import install_default_tokens
    site = MoodleSite(sitename="Tiny Moodle", fixed_now=TINY_NOW)
    _users(site)
    _courses(site)
    _enrolments(site)
    _competencies(site)
    install_default_tokens(site)
    site.touch()
    return site
