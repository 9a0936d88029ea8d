"""Demo data for `make run`: courses with video, article and quiz lessons, a bundle holding every
kind of item, a learner with progress, a completed course with a certificate and a study plan run
twice, and an instructor teaching the SQL course.

Idempotent: objects are looked up by their natural keys (slug, external id) and created only
when missing. Keys cannot be recovered from their hashes, so each run issues fresh demo keys
and revokes the ones from earlier runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from gql_progress.auth import IssuedKey, issue_api_key
from gql_progress.db.engine import Database
from gql_progress.db.models import (
    ApiKey,
    Bundle,
    Certificate,
    Course,
    Event,
    EventType,
    Lesson,
    LessonKind,
    Product,
    ProductKind,
    StudyPlan,
    User,
    UserRole,
)
from gql_progress.db.types import utcnow
from gql_progress.domain import bundles, catalog, study_plans, teaching
from gql_progress.domain.bundles import ItemRef
from gql_progress.domain.completion.bulk import set_completion
from gql_progress.domain.completion.upsert import upsert_progress
from gql_progress.domain.refs import BundleRef, Identity, ProductRef, UserRef
from gql_progress.domain.teaching import CourseRef
from gql_progress.domain.viewer import Viewer

DEMO_KEY_LABEL = "demo"

USERS = [
    {
        "external_id": "demo-admin",
        "email": "admin@example.com",
        "name": "Ada Admin",
        "role": UserRole.ADMIN,
    },
    {
        "external_id": "demo-learner",
        "email": "learner@example.com",
        "name": "Lee Learner",
        "role": UserRole.LEARNER,
    },
    {
        "external_id": "demo-instructor",
        "email": "instructor@example.com",
        "name": "Ivy Instructor",
        "role": UserRole.INSTRUCTOR,
    },
]
TAUGHT_COURSE = "intro-to-sql"

COURSES: list[dict[str, Any]] = [
    {
        "course": {
            "slug": "intro-to-sql",
            "product_id": "prod-sql-101",
            "title": "Introduction to SQL",
            "description": "Tables, queries and joins, from zero.",
            "expected_completion_days": 14,
            "certificate_enabled": True,
        },
        "lessons": [
            ("What is a database?", LessonKind.VIDEO, 420, True),
            ("Your first SELECT", LessonKind.VIDEO, 610, True),
            ("Filtering with WHERE", LessonKind.ARTICLE, None, True),
            ("Joins explained", LessonKind.VIDEO, 900, True),
            ("Further reading", LessonKind.ARTICLE, None, False),
            ("Check your knowledge", LessonKind.QUIZ, None, True),
        ],
    },
    {
        "course": {
            "slug": "python-basics",
            "product_id": "prod-py-101",
            "title": "Python Basics",
            "description": "Variables, functions and a first program.",
            "expected_completion_days": 21,
            "requires_sequential_progress": True,
        },
        "lessons": [
            ("Installing Python", LessonKind.VIDEO, 300, True),
            ("Variables and types", LessonKind.VIDEO, 540, True),
            ("Functions", LessonKind.ARTICLE, None, True),
            ("Exercise: a calculator", LessonKind.ASSIGNMENT, None, True),
            ("Quiz: basics", LessonKind.QUIZ, None, True),
        ],
    },
    {
        "course": {
            "slug": "data-viz",
            "title": "Data Visualisation",
            "description": "Charts that tell the truth.",
        },
        "lessons": [
            ("Why visualise?", LessonKind.VIDEO, 360, True),
            ("Choosing a chart", LessonKind.ARTICLE, None, True),
            ("Quiz: charts", LessonKind.QUIZ, None, True),
        ],
    },
    # Last, so that the lessons above keep the ids the README's examples name.
    {
        "course": {
            "slug": "git-basics",
            "product_id": "prod-git-101",
            "title": "Git Basics",
            "description": "Commits, branches and merges.",
            "expected_completion_days": 7,
            "certificate_enabled": True,
        },
        "lessons": [
            ("Why version control?", LessonKind.VIDEO, 300, True),
            ("Commits and history", LessonKind.ARTICLE, None, True),
            ("Branches and merges", LessonKind.VIDEO, 480, True),
        ],
    },
]
# The learner has completed this course: its certificate's code is fixed, so that the README's
# verifyCertificate example works as written. Real codes are random (domain/certificates.py);
# seed-demo refuses to run in production.
COMPLETED_COURSE = "git-basics"
DEMO_CERTIFICATE_CODE = "demo-certificate-git-basics"


PRODUCTS = [
    {"product_id": "prod-sql-challenge", "kind": ProductKind.CONTEST, "title": "SQL Challenge"},
    {"product_id": "prod-live-qa", "kind": ProductKind.LIVE_EVENT, "title": "Live Q&A with the authors"},
    {"product_id": "prod-sql-ebook", "kind": ProductKind.EBOOK, "title": "The SQL Pocket Book"},
    {
        "product_id": "prod-cheatsheets",
        "kind": ProductKind.DOWNLOADABLE_PRODUCT,
        "title": "Cheat sheets (PDF)",
    },
]

BUNDLE = {
    "product_id": "prod-data-track",
    "slug": "data-skills-track",
    "title": "Data Skills Track",
    "description": "SQL and charts, with a contest, a live Q&A, an ebook and cheat sheets.",
}
BUNDLE_COURSES = ("intro-to-sql", "data-viz")
STUDY_PLAN_TITLE = "Queries and charts: a two-week refresher"


@dataclass(frozen=True)
class DemoKeys:
    admin: IssuedKey
    learner: IssuedKey
    instructor: IssuedKey


async def seed_demo(db: Database) -> DemoKeys:
    users = {u["external_id"]: await _user(db, u) for u in USERS}
    courses = {c["course"]["slug"]: await _course(db, c) for c in COURSES}
    learner = users["demo-learner"]

    fresh = False
    for slug in ("intro-to-sql", "python-basics"):
        _, created = await catalog.enroll(db, learner, courses[slug])
        fresh = fresh or created
    if fresh:
        await _progress(db, learner, courses["intro-to-sql"])
    _, created = await catalog.enroll(db, learner, courses[COMPLETED_COURSE])
    if created:
        await _completed_with_certificate(db, learner, courses[COMPLETED_COURSE])
    await _bundle(db, learner, courses)
    await _study_plan(db, learner, courses)
    await teaching.assign_instructor(  # keeps an existing assignment
        db,
        Viewer(users["demo-admin"], UserRole.ADMIN),
        CourseRef(slug=TAUGHT_COURSE),
        UserRef(id=users["demo-instructor"]),
    )

    async with db.write() as conn:
        db.note_credentials_changed(conn)
        await conn.execute(
            update(ApiKey)
            .where(
                ApiKey.label == DEMO_KEY_LABEL,
                ApiKey.user_id.in_(users.values()),
                ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
    return DemoKeys(
        admin=await issue_api_key(db, users["demo-admin"], DEMO_KEY_LABEL),
        learner=await issue_api_key(db, learner, DEMO_KEY_LABEL),
        instructor=await issue_api_key(db, users["demo-instructor"], DEMO_KEY_LABEL),
    )


async def _user(db: Database, values: dict[str, Any]) -> int:
    async with db.read() as conn:
        found = await conn.scalar(select(User.id).where(User.external_id == values["external_id"]))
    if found is not None:
        return found
    return int((await catalog.create_user(db, values)).id)


async def _course(db: Database, spec: dict[str, Any]) -> int:
    async with db.read() as conn:
        found = await conn.scalar(select(Course.id).where(Course.slug == spec["course"]["slug"]))
    if found is not None:
        return found
    course_id = int((await catalog.create_course(db, spec["course"])).id)
    for position, (title, kind, duration, required) in enumerate(spec["lessons"], start=1):
        lesson = {"title": title, "kind": kind, "duration_seconds": duration, "is_required": required}
        # The platform's own lesson ids, as a platform would send them (lesson: {externalId}).
        lesson["external_id"] = f"{spec['course']['slug']}-l{position}"
        await catalog.add_lesson(db, course_id, lesson)
    return course_id


async def _bundle(db: Database, learner: int, courses: dict[str, int]) -> None:
    """The bundle with every item kind; the learner is enrolled and has read the ebook."""
    async with db.read() as conn:
        found = await conn.scalar(select(Bundle.id).where(Bundle.slug == BUNDLE["slug"]))
        products = dict((await conn.execute(select(Product.product_id, Product.id))).all())
    if found is None:
        for values in PRODUCTS:
            if values["product_id"] not in products:
                products[values["product_id"]] = (await bundles.create_product(db, values)).id
        items = [ItemRef(course_id=courses[slug]) for slug in BUNDLE_COURSES] + [
            ItemRef(product_pk=products[p["product_id"]], product_kind=ProductKind(p["kind"]))
            for p in PRODUCTS
        ]
        await bundles.create_bundle(db, BUNDLE, items)
    await bundles.enroll_in_bundle(db, BundleRef(slug=BUNDLE["slug"]), UserRef(id=learner))
    identity = Identity(id=learner, email="", external_id="")
    await bundles.set_product_completion(
        db, Viewer(learner, UserRole.LEARNER), identity, ProductRef(product_id="prod-sql-ebook"), None, True
    )


async def _study_plan(db: Database, learner: int, courses: dict[str, int]) -> None:
    """A plan mixing lessons of two courses, with two instances sharing the learner's progress."""
    async with db.read() as conn:
        if await conn.scalar(select(StudyPlan.id).where(StudyPlan.user_id == learner)) is not None:
            return
        lessons = {
            (row.course_id, row.position): row.id
            for row in await conn.execute(select(Lesson.id, Lesson.course_id, Lesson.position))
        }
    picks = [(courses["intro-to-sql"], 0), (courses["intro-to-sql"], 3), (courses["data-viz"], 0)]
    plan = await study_plans.create_plan(
        db, user_id=learner, values={"title": STUDY_PLAN_TITLE, "lesson_ids": [lessons[p] for p in picks]}
    )
    viewer = Viewer(learner, UserRole.LEARNER)
    for _ in range(2):
        await study_plans.start_instance(db, viewer, plan.id)


async def _progress(db: Database, learner: int, course_id: int) -> None:
    async with db.read() as conn:
        lessons = (
            (
                await conn.execute(
                    select(Lesson.id).where(Lesson.course_id == course_id).order_by(Lesson.position)
                )
            )
            .scalars()
            .all()
        )
    await set_completion(db, user_id=learner, requested=[(str(i), i) for i in lessons[:2]], completed=True)
    await upsert_progress(
        db,
        user_id=learner,
        lesson_id=lessons[3],
        changes={
            "video_position_seconds": 180,
            "last_position_seconds": 180,
            "progress_percentage": 20.0,
            "time_spent_minutes": 4,
            "notes": "Inner vs outer joins: rewatch from 2:30.",
        },
    )


async def _completed_with_certificate(db: Database, learner: int, course_id: int) -> None:
    """Every lesson completed through the write pipeline (which completes the enrollment and
    issues the certificate), then the certificate's code, here and in its event, made fixed."""
    async with db.read() as conn:
        lessons = (await conn.execute(select(Lesson.id).where(Lesson.course_id == course_id))).scalars().all()
    await set_completion(db, user_id=learner, requested=[(str(i), i) for i in lessons], completed=True)
    async with db.write() as conn:
        await conn.execute(
            update(Certificate)
            .where(Certificate.user_id == learner, Certificate.course_id == course_id)
            .values(code=DEMO_CERTIFICATE_CODE)
        )
        issued = (
            await conn.execute(
                select(Event.id, Event.data).where(
                    Event.type == EventType.CERTIFICATE_ISSUED,
                    Event.user_id == learner,
                    Event.course_id == course_id,
                )
            )
        ).all()
        for event_id, data in issued:
            await conn.execute(
                update(Event)
                .where(Event.id == event_id)
                .values(data={**(data or {}), "code": DEMO_CERTIFICATE_CODE})
            )
