"""Deterministic seeded Canvas datasets of any size (`CanvasSite.generate`)."""

from __future__ import annotations

import random
import unicodedata

from ._model import Course, Enrollment, Login, User
from ._site import BASE_TIME, CanvasSite, _uuid
from ._tokens import install_tokens

__all__ = ["generate_site"]

DAY = 86400
_FIRST = ["Anna", "Jürgen", "Zoë", "José", "Łukasz", "Søren", "Chloé", "Mohammed", "Aiko", "Björn", "Noah",
          "Emma", "Liam", "Olivia", "Mateo", "Sofía", "Ngozi", "Priya", "Wei", "Fatima", "Ivan", "Élodie"]
_LAST = ["Müller", "O'Brien", "Núñez", "Kowalski", "Sørensen", "Dubois", "Al-Sayed", "Tanaka", "Johansson",
         "Smith", "Garcia", "Nguyen", "Okafor", "Patel", "Zhang", "Petrov", "Lefèvre", "Ødegaard", "Çelik"]
_TOPICS = ["Algebra", "Marketing", "Spanish", "Physics", "Ethics", "Data Science", "Design", "Accounting",
           "Biology", "History", "Français", "Statistics", "Leadership", "Chemistry"]
_LEVELS = ["Introduction to", "Advanced", "Applied", "Foundations of", "Topics in"]
# course workflow states and their weights; enrollment states and their weights
_COURSE_STATES = (("available", 0.7), ("claimed", 0.1), ("completed", 0.15), ("deleted", 0.05))
_ENROLLMENT_STATES = (("active", 0.8), ("invited", 0.06), ("inactive", 0.04), ("completed", 0.08),
                      ("deleted", 0.02))


def _slug(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O").replace("ł", "l"))
    return "".join(c for c in norm if c.isascii() and c.isalnum()).lower() or "user"


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def _gen_users(site: CanvasSite, rng: random.Random, n: int) -> list[int]:
    ids = []
    for i in range(n):
        uid = site.next_id("user")
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        created = BASE_TIME + (uid % 300) * 3600
        user = User(uid, f"{first} {last}", f"{last}, {first}", first,
                    f"{_slug(first)}.{_slug(last)}{uid}@example.com" if i % 9 else None,
                    created_at=created, uuid=_uuid(f"user:{uid}"),
                    last_login=BASE_TIME + 50 * DAY + uid if rng.random() < 0.8 else None)
        suspended = rng.random() < 0.03
        user.logins.append(Login(site.next_id("login"), uid, f"u{uid:06d}", f"SIS{uid:06d}" if i % 4 else None,
                                 None, "suspended" if suspended else "active", site.root_account_id, created))
        site.users[uid] = user
        ids.append(uid)
    return ids


def _gen_course(site: CanvasSite, rng: random.Random, idx: int, account_id: int) -> Course:
    topic = _TOPICS[idx % len(_TOPICS)]
    start = BASE_TIME + (idx % 90) * DAY
    return site.add_course(
        f"{rng.choice(_LEVELS)} {topic} {idx}", f"C{idx:05d}", account_id, workflow_state=_pick(rng, _COURSE_STATES),
        sis_course_id=f"CRS-{idx:05d}" if idx % 4 else None, start_at=start,
        end_at=start + 120 * DAY if idx % 3 else None, created_at=start - 30 * DAY,
        syllabus_body=f"<p>Learn <strong>{topic}</strong> – “hands-on” &amp; practical.</p>" if idx % 2 else None,
        requirement_count=rng.choice((0, 3, 5, 8)))


def generate_site(*, seed: int = 0, users: int = 200, courses: int = 20, enrolments_per_course: int = 10,
                  deleted_user_rate: float = 0.02, outcomes_rate: float = 0.5) -> CanvasSite:
    """A reproducible site: a root account with one sub-account, `users` users (plus an admin,
    a read-only sub-admin and a teacher who own the preset tokens), `courses` courses in mixed
    states, each with a teacher and `enrolments_per_course` student enrollments in mixed states,
    module progress, and outcomes linked into about `outcomes_rate` of the courses."""
    rng = random.Random(seed)
    site = CanvasSite("Generated Canvas")
    site.fixed_now = BASE_TIME + 200 * DAY
    sub = site.add_account("Sub-account", parent_id=site.root_account_id, sis_account_id="ACC-SUB")
    admin = site.add_user("Admin User", "User, Admin", "Admin", login_id="admin", email="admin@example.com")
    rita = site.add_user("Rita Restricted", "Restricted, Rita", "Rita", login_id="rita", email="rita@example.com")
    tara = site.add_user("Tara Teacher", "Teacher, Tara", "Tara", login_id="tara", email="tara@example.com")
    learners = _gen_users(site, rng, users)
    root_group = site.root_group("Account", site.root_account_id)
    skills = site.add_group("Account", site.root_account_id, "Skills", root_group.id)
    outcomes = [site.add_outcome(skills.id, f"Outcome {i + 1}", vendor_guid=f"OUT-{i + 1:03d}").id for i in range(5)]
    per_course = min(enrolments_per_course, len(learners))
    for idx in range(1, courses + 1):
        course = _gen_course(site, rng, idx, sub.id if idx % 5 == 0 else site.root_account_id)
        when = course.created_at + DAY
        site.enroll(course.id, tara.id, "TeacherEnrollment", "active", when)
        for uid in rng.sample(learners, per_course) if per_course else []:
            state = _pick(rng, _ENROLLMENT_STATES)
            if course.workflow_state == "completed" and state in ("active", "invited"):
                state = "completed"
            enrollment: Enrollment = site.enroll(course.id, uid, "StudentEnrollment", state, when + uid % 7 * 3600)
            if state == "completed":
                enrollment.completed_at = when + 100 * DAY
            if state in ("active", "completed"):
                enrollment.current_score = round(rng.uniform(40, 100), 1)
                enrollment.final_score = round(enrollment.current_score * rng.uniform(0.5, 1.0), 1)
                if course.requirement_count:
                    done = rng.randint(0, course.requirement_count)
                    site.set_progress(course.id, uid, done,
                                      when + 30 * DAY if done == course.requirement_count else None)
        if rng.random() < outcomes_rate:
            group = site.root_group("Course", course.id)
            for oid in rng.sample(outcomes, rng.randint(1, 3)):
                site.link_outcome(group.id, oid)
    for uid in learners:
        if rng.random() < deleted_user_rate:
            site.delete_user(uid)
    install_tokens(site, admin=admin.id, restricted=rita.id, teacher=tara.id,
                   student=learners[0] if learners else None)
    return site
