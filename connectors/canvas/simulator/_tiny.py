"""`tiny_canvas_site()`: the small fixed Canvas site golden tests rely on (keep it stable)."""

from __future__ import annotations

from ._site import BASE_TIME, CanvasSite
from ._tokens import install_tokens

__all__ = ["tiny_canvas_site", "TINY_NOW"]

DAY = 86400
TINY_NOW = BASE_TIME + 165 * DAY  # 2025-06-15T00:00:00Z: the site's fixed clock

_SYLLABUS = "<p>Start <strong>speaking</strong> – today &amp; tomorrow. «Bonjour», “hello”.</p>"


def _users(site: CanvasSite) -> None:
    add = site.add_user
    add("Admin User", "User, Admin", "Admin", login_id="admin", email="admin@example.com",
        last_login=BASE_TIME + 100 * DAY)                                                            # 1
    add("Rita Restricted", "Restricted, Rita", "Rita", login_id="rita", email="rita@example.com")    # 2
    add("Jürgen Müller", "Müller, Jürgen", "Jürgen", login_id="juergen", email="juergen.mueller@example.com",
        sis_user_id="S01", integration_id="INT-S01", locale="de", time_zone="Europe/Berlin",
        last_login=BASE_TIME + 90 * DAY, bio="<p>Likes <em>languages</em> – and “tea”.</p>")       # 3
    add("Zoë O'Brien", "O'Brien, Zoë", "Zoë", login_id="zoe", email="zoe.obrien@example.com",
        sis_user_id="S02", pronouns="she/her")                                                       # 4
    add("José Núñez", "Núñez, José", "José", login_id="jose", email="jose.nunez@example.com",
        sis_user_id="S03")                                                                           # 5
    add("Ngozi Okafor", "Okafor, Ngozi", "Ngozi", login_id="ngozi", email="ngozi.okafor@example.com",
        sis_user_id="S04", suspended=True)                                                           # 6
    add("Wei Zhang", "Zhang, Wei", "Wei", login_id="wei", email=None, sis_user_id="S05")             # 7
    add("Tara Teacher", "Teacher, Tara", "Tara", login_id="tara", email="tara.teacher@example.com",
        sis_user_id="T01")                                                                           # 8
    add("Dana Deleted", "Deleted, Dana", "Dana", login_id="dana", email="dana.deleted@example.com",
        sis_user_id="S09")                                                                           # 9
    add("Ivan Invited", "Invited, Ivan", "Ivan", login_id="ivan@example.com", email="ivan@example.com",
        workflow_state="pre_registered")                                                             # 10
    add("Chloé Dubois", "Dubois, Chloé", "Chloé", login_id="chloe", email="chloe.dubois@example.com",
        sis_user_id="S11")                                                                           # 11


def _courses(site: CanvasSite) -> None:
    spring = site.add_term("Spring 2025", BASE_TIME + 31 * DAY, BASE_TIME + 180 * DAY, sis_term_id="T2025S")
    start = BASE_TIME + 35 * DAY
    site.add_course("English for Beginners", "ENG101", 2, sis_course_id="CRS-ENG101", integration_id="INT-ENG",
                    enrollment_term_id=spring.id, start_at=start, end_at=start + 200 * DAY,
                    syllabus_body=_SYLLABUS, requirement_count=4, created_at=BASE_TIME + DAY,
                    updated_at=BASE_TIME + 2 * DAY)                                                  # 1
    site.add_course("Business Basics", "BUS220", workflow_state="claimed", sis_course_id="CRS-BUS220",
                    requirement_count=2, created_at=BASE_TIME + DAY)                                 # 2
    site.add_course("Business Strategy", "BUS400", workflow_state="completed", start_at=BASE_TIME,
                    end_at=BASE_TIME + 60 * DAY, created_at=BASE_TIME)                               # 3
    site.add_course("Old Deleted Course", "DEL100", workflow_state="deleted", sis_course_id="CRS-DEL100",
                    created_at=BASE_TIME)                                                            # 4
    site.add_course("Français avancé", "FRA300", 2, sis_course_id="CRS-FRA300", enrollment_term_id=spring.id,
                    syllabus_body="<p>Écrire, lire &amp; parler</p>", created_at=BASE_TIME + 3 * DAY)  # 5
    site.add_course("Empty Course", "EMPTY1", sis_course_id="CRS-EMPTY", created_at=BASE_TIME + 4 * DAY)  # 6


def _enrollments(site: CanvasSite) -> None:
    t0 = BASE_TIME + 20 * DAY
    done = BASE_TIME + 70 * DAY
    enroll = site.enroll
    enroll(1, 3, created_at=t0, current_score=91.5, final_score=91.5, last_activity_at=done,
           total_activity_time=36000)                                                                # 1
    enroll(1, 4, created_at=t0, current_score=74.0, final_score=37.0, last_activity_at=done - DAY)   # 2
    enroll(1, 5, created_at=t0)                                                                      # 3
    enroll(1, 6, state="inactive", created_at=t0)                                                    # 4
    enroll(1, 10, state="invited", created_at=t0 + DAY)                                              # 5
    enroll(1, 11, state="completed", created_at=t0, completed_at=done, current_score=88.0,
           final_score=88.0)                                                                         # 6
    enroll(1, 9, created_at=t0)                                                              # 7 (user 9: deleted)
    enroll(1, 8, "TeacherEnrollment", created_at=t0)                                                 # 8
    enroll(2, 3, created_at=t0)                                                                      # 9
    enroll(2, 4, state="invited", created_at=t0)                                                     # 10
    enroll(2, 8, "TeacherEnrollment", created_at=t0)                                                 # 11
    enroll(3, 3, state="completed", created_at=BASE_TIME, completed_at=BASE_TIME + 60 * DAY)          # 12
    enroll(3, 5, state="completed", created_at=BASE_TIME, completed_at=BASE_TIME + 60 * DAY)          # 13
    enroll(4, 3, created_at=BASE_TIME)                                                               # 14
    enroll(5, 4, created_at=t0)                                                                      # 15
    enroll(5, 7, created_at=t0)                                                                      # 16
    enroll(5, 5, state="rejected", created_at=t0)                                                    # 17
    enroll(5, 8, "TeacherEnrollment", created_at=t0)                                                 # 18
    enroll(5, 2, "TaEnrollment", created_at=t0)                                                      # 19
    site.set_progress(1, 3, 4, completed_at=done)
    site.set_progress(1, 4, 2, next_item_id=1003)
    site.set_progress(1, 11, 4, completed_at=done - 5 * DAY)
    site.set_progress(2, 3, 1, next_item_id=2002)


def _outcomes(site: CanvasSite) -> None:
    root = site.root_group("Account", 1)
    lang = site.add_group("Account", 1, "Language Skills", root.id, description="<p>CEFR aligned</p>",
                          vendor_guid="LANG")                                                        # group 9
    digi = site.add_group("Account", 1, "Digital Skills", root.id)                                   # group 10
    reading = site.add_outcome(lang.id, "Reading comprehension", display_name="Reading",
                               description="<p>Understands short texts</p>", vendor_guid="LANG-R")   # 1
    writing = site.add_outcome(lang.id, "Écriture", description="<p>Écrit des textes simples</p>",
                               vendor_guid="LANG-W", calculation_method="decaying_average",
                               calculation_int=65)                                                   # 2
    site.add_outcome(digi.id, "Problem solving", vendor_guid="DIGI-PS", mastery_points=4.0)          # 3
    sub = site.root_group("Account", 2)
    site.add_outcome(sub.id, "Spoken interaction", vendor_guid="LANG-S")                             # 4
    eng = site.root_group("Course", 1)
    site.link_outcome(eng.id, reading.id)
    site.link_outcome(eng.id, writing.id)
    site.link_outcome(site.root_group("Course", 5).id, writing.id)


def tiny_canvas_site() -> CanvasSite:
    """A small fixed Canvas site (clock fixed at `TINY_NOW` = 2025-06-15T00:00:00Z).

    Accounts: 1 "Tiny Canvas" (root), 2 "Languages" (sub-account of 1, sis ACC-LANG).
    Terms: 1 Default Term, 2 "Spring 2025" (T2025S).
    Users: 1 Admin User (ADMIN/EXPIRED token), 2 Rita Restricted (RESTRICTED token, TA in 5),
    3 Jürgen Müller (S01, STUDENT token), 4 Zoë O'Brien, 5 José Núñez, 6 Ngozi Okafor (login
    suspended), 7 Wei Zhang (no email), 8 Tara Teacher (TEACHER token), 9 Dana Deleted (deleted),
    10 Ivan Invited (pre_registered), 11 Chloé Dubois.
    Courses: 1 ENG101 (account 2, available, 4 module requirements, syllabus, outcomes 1 and 2
    linked): 3 active 4/4 complete, 4 active 2/4, 5 active 0/4, 6 inactive, 10 invited,
    11 completed, 9 deleted, teacher 8. 2 BUS220 unpublished (2 requirements): 3 active 1/2,
    4 invited, teacher 8; no outcomes. 3 BUS400 concluded: 3 and 5 completed. 4 DEL100 deleted
    (3 active). 5 FRA300 (account 2, not module based, outcome 2 linked): 4 and 7 active,
    5 rejected, teacher 8, TA 2. 6 EMPTY1 (no enrollments).
    Outcome groups: 1 root of account 1 → 9 "Language Skills" (outcomes 1 Reading
    comprehension, 2 Écriture), 10 "Digital Skills" (3 Problem solving); 2 root of account 2
    (4 Spoken interaction); 3..8 roots of courses 1..6.
    """
    site = CanvasSite("Tiny Canvas", fixed_now=TINY_NOW)
    site.add_account("Languages", parent_id=1, sis_account_id="ACC-LANG")
    _users(site)
    _courses(site)
    _enrollments(site)
    _outcomes(site)
    site.delete_user(9)
    install_tokens(site, admin=1, restricted=2, student=3, teacher=8)
    return site
