"""Deterministic seeded datasets: `generate_site()` (any size) and `build_tiny_site()`.

Hot loops write straight into the site's tables (no per-row `touch()`), so the large size
(50,000 users, 2,000 courses, 100,000 enrolments) builds in a few seconds.
"""

from __future__ import annotations

import gc
import random
import unicodedata

from ._model import CMCompletion, Course, Grade, User, UserEnrolment
from ._site import BASE_TIME, MoodleSite

__all__ = ["generate_site", "DEFAULT_COMPLETION_MIX"]

DAY = 86400
DEFAULT_COMPLETION_MIX = (0.30, 0.30, 0.10, 0.05, 0.25)

_FIRST = ["Anna", "Jürgen", "Zoë", "José", "Łukasz", "Søren", "Chloé", "Mohammed", "Aiko", "Björn",
          "Noah", "Emma", "Liam", "Olivia", "Mateo", "Sofía", "Ngozi", "Priya", "Wei", "Fatima",
          "Ivan", "Élodie", "Oskar", "Mia", "Lucas", "Hana", "Kofi", "Ines", "Tomás", "Yara"]
_LAST = ["Müller", "O'Brien", "Núñez", "Kowalski", "Sørensen", "Dubois", "Al-Sayed", "Tanaka",
         "Johansson", "Smith", "Garcia", "Brown", "Nguyen", "Okafor", "Patel", "Zhang", "Haddad",
         "Petrov", "Lefèvre", "Schmidt", "Rossi", "Silva", "Kim", "Mensah", "Costa", "Novak",
         "Fischer", "Ødegaard", "Çelik", "Adébáyọ̀"]
_CITIES = ["Berlin", "Zürich", "São Paulo", "Kraków", "Lagos", "Tokyo", "", "Montréal", "Oslo", ""]
_TOPICS = ["Algebra", "Marketing", "Spanish", "Physics", "Ethics", "Data Science", "Design",
           "Accounting", "Biology", "History", "Français", "Statistics", "Leadership", "Chemistry"]
_LEVELS = ["Introduction to", "Advanced", "Applied", "Foundations of", "Topics in"]
_CATS = [("Languages", "CAT-LANG"), ("Sciences", "CAT-SCI"), ("Business", "CAT-BUS")]


def ascii_slug(text: str) -> str:
    """'Jürgen' → 'jurgen' (email local parts)."""
    norm = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O").replace("ł", "l"))
    return "".join(c for c in norm if c.isascii() and (c.isalnum())).lower() or "user"


def _base_users(site: MoodleSite) -> None:
    site.add_user("guest", "Guest user", " ", "root@localhost", description="This user is a special user that allows read-only access to some courses.")
    site.add_user("admin", "Admin", "User", "admin@example.com", city="Berlin", country="DE",
                  firstaccess=BASE_TIME, lastaccess=BASE_TIME + 100 * DAY)
    site.add_user("wsrestricted", "Rita", "Restricted", "rita.restricted@example.com")
    site.add_user("wssuspended", "Sam", "Suspended", "sam.suspended@example.com", suspended=True)


def _gen_users(site: MoodleSite, rng: random.Random, n: int, suspended_rate: float) -> None:
    users = site.users
    for i in range(n):
        uid = site.next_id("user")
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        uname = f"u{uid:06d}"
        email = f"{ascii_slug(first)}.{ascii_slug(last)}{uid}@example.com"
        seen = rng.random() < 0.8
        user = User(uid, uname, first, last, email, idnumber=f"EMP{uid:06d}" if i % 3 else "",
                    suspended=rng.random() < suspended_rate, city=rng.choice(_CITIES),
                    country="DE" if i % 4 == 0 else "", firstaccess=BASE_TIME + uid if seen else 0,
                    lastaccess=BASE_TIME + 50 * DAY + uid if seen else 0,
                    institution="Université Libre" if i % 5 == 0 else "",
                    description=f"<p>Learner from {first}’s cohort</p>" if i % 7 == 0 else "")
        users[uid] = user
        site.username_index[uname] = uid


def _gen_course(site: MoodleSite, rng: random.Random, idx: int, cat: int, *, hidden: bool,
                completion: bool, graded: bool) -> Course:
    topic = _TOPICS[idx % len(_TOPICS)]
    start = BASE_TIME + (idx % 90) * DAY
    course = site.add_course(
        f"{rng.choice(_LEVELS)} {topic} {idx}", f"C{idx:05d}", cat, sections=2,
        idnumber=f"CRS-{idx:05d}" if idx % 4 else "",
        summary=f"<p>Learn <strong>{topic}</strong> – “hands-on” &amp; practical.</p>",
        startdate=start, enddate=start + 120 * DAY if idx % 3 else 0, visible=0 if hidden else 1,
        enablecompletion=1 if completion else 0, timecreated=start - 30 * DAY,
        timemodified=start - 10 * DAY, sortorder=10000 * cat + idx)
    tracking = 2 if completion else 0
    site.add_module(course.id, "forum", "Announcements", section=0, completion=0, graded=False)
    site.add_module(course.id, "page", f"{topic} reading", completion=1 if completion else 0)
    if graded:
        site.add_module(course.id, "assign", f"{topic} assignment", completion=tracking)
        site.add_module(course.id, "quiz", f"{topic} quiz", section=2, completion=tracking)
    else:
        site.add_module(course.id, "url", f"{topic} links", section=2, completion=1 if completion else 0)
    return course


def _complete(site: MoodleSite, course: Course, uid: int, kind: int, rng: random.Random, when: int) -> None:
    """kind: 0 not started, 1 in progress, 2 complete-pass, 3 complete-fail, 4 course completed."""
    cmids = course.criteria_cmids
    if kind == 0 or not cmids:
        return
    todo = cmids[: max(1, len(cmids) - 1)] if kind == 1 and len(cmids) > 1 else cmids
    if kind == 1 and len(cmids) == 1:
        todo = []
    for pos, cmid in enumerate(todo):
        cm = site.cms[cmid]
        stamp = when + pos * DAY
        state = 1
        if cm.gradeitemid is not None:
            fail = kind == 3
            state = 3 if fail else 2
            grade = float(rng.randint(10, 45) if fail else rng.randint(55, 100))
            site.grades[(cm.gradeitemid, uid)] = Grade(grade, grade, stamp)
        site.cm_completion[(cmid, uid)] = CMCompletion(state, stamp)
    if kind == 4:
        site.course_completions[(course.id, uid)] = when + len(todo) * DAY


def _enrol_course(site: MoodleSite, rng: random.Random, course: Course, pool: list[int], per_course: int,
                  susp_rate: float, mix: tuple[float, ...]) -> None:
    inst = site.manual_instance(course.id, enabled_only=False)
    enrolled = site.course_enrolments[course.id]
    roles = site.course_roles[course.id]
    for pos, uid in enumerate(sorted(rng.sample(pool, min(per_course, len(pool))))):
        created = course.startdate - rng.randint(1, 20) * DAY
        ue = UserEnrolment(site.next_id("user_enrolments"), inst.id, uid,
                           1 if rng.random() < susp_rate else 0, course.startdate, 0, created, created)
        enrolled[uid] = [ue]
        site.user_courses[uid].add(course.id)
        teacher = pos % 25 == 7
        roles[uid] = {3 if teacher else 5}
        if not teacher and course.enablecompletion:
            kind = rng.choices(range(5), weights=mix)[0]
            _complete(site, course, uid, kind, rng, course.startdate + rng.randint(1, 30) * DAY)


def _gen_competencies(site: MoodleSite, rng: random.Random, frameworks: int, per_fw: int) -> list[int]:
    ids = []
    for f in range(frameworks):
        fw = site.add_framework(f"Framework {f + 1} – Skills", f"FW{f + 1:02d}",
                                description=f"<p>Competency framework №{f + 1}</p>",
                                timecreated=BASE_TIME - 200 * DAY + f)
        roots: list[int] = []
        for c in range(per_fw):
            parent = rng.choice(roots) if roots and c % 5 else 0
            comp = site.add_competency(fw.id, f"Competency {f + 1}.{c + 1}", f"FW{f + 1:02d}-C{c + 1:04d}",
                                       parentid=parent, description=f"<p>Can do thing {c + 1}</p>",
                                       timecreated=BASE_TIME - 150 * DAY + c)
            if parent == 0:
                roots.append(comp.id)
            ids.append(comp.id)
    return ids


def generate_site(seed: int = 0, users: int = 200, courses: int = 20, enrolments_per_course: int = 10,
                  frameworks: int = 2, competencies_per_framework: int = 20, course_competencies: int = 3,
                  hidden_course_rate: float = 0.05, suspended_user_rate: float = 0.02,
                  suspended_enrolment_rate: float = 0.05,
                  completion_mix: tuple[float, ...] = DEFAULT_COMPLETION_MIX,
                  deleted_users: int = 2) -> MoodleSite:
    """Build a deterministic site; see `MoodleSite.generate` for the parameters."""
    from ._registry import install_default_tokens
    rng = random.Random(seed)
    site = MoodleSite()
    site.add_category("Category 1", idnumber=None)
    for name, idn in _CATS:
        site.add_category(name, idnumber=idn, description=f"<p>{name} courses</p>")
    site.add_course("lmsync Simulated Site", "lmsync", 0, manual_enrol=False, sections=0,
                    format="site", summary="<p>Front page</p>", timecreated=BASE_TIME - 365 * DAY,
                    enablecompletion=0, numsections=0)
    _base_users(site)
    _gen_users(site, rng, users, suspended_user_rate)
    comp_ids = _gen_competencies(site, rng, frameworks, competencies_per_framework)
    pool = [u.id for u in site.users.values() if u.id > 4]
    for victim in rng.sample(pool, min(deleted_users, len(pool))):
        site.users[victim].deleted = True
        site.username_index.pop(site.users[victim].username, None)
    pool = [u for u in pool if not site.users[u].deleted]
    cat_ids = list(site.categories)
    for idx in range(1, courses + 1):
        course = _gen_course(site, rng, idx, cat_ids[idx % len(cat_ids)],
                             hidden=rng.random() < hidden_course_rate,
                             completion=idx % 10 != 3, graded=idx % 10 != 5)
        if idx % 20 != 9:
            _enrol_course(site, rng, course, pool, enrolments_per_course,
                          suspended_enrolment_rate, completion_mix)
        if comp_ids and idx % 5 != 4:
            for cid in rng.sample(comp_ids, min(course_competencies, len(comp_ids))):
                site.add_course_competency(course.id, cid, when=course.timecreated)
    install_default_tokens(site)
    site.touch()
    gc.collect()
    gc.freeze()  # the dataset is long-lived: keep it out of later GC passes
    return site
