"""The benchmarked operations: GraphQL documents, how a response is judged, what each one reads.

One source of truth for the wrk scripts (which receive the documents as files), the in-process
statement counts and the floor and PostGraphile comparisons. PostGraphile's documents for Q0, Q1,
Q2 and Q3 (``PEER_OPERATIONS``) ask its generated schema for the same content; bench/peer_shape.py
maps its answers to ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Pool(StrEnum):
    """Which (learner, enrolled course) pairs an operation draws from."""

    ANY = "any"  # every pair (Q0, Q3)
    SHORT = "short"  # pairs in 50-lesson courses
    LONG = "long"  # pairs in the 200-lesson course


COURSE_TITLE = "query CourseTitle($slug: String!) { course(slug: $slug) { title } }"

COURSE_PAGE = (
    "query CoursePage($slug: String!) { course(slug: $slug) { title "
    "summary { completionPercentage completedLessons totalLessons } "
    "lessons { id title kind durationSeconds isRequired "
    "progress { status progressPercentage videoPositionSeconds lastPositionSeconds completedAt } } } }"
)

DASHBOARD = "query Dashboard { me { enrollments { course { title } summary { completionPercentage } } } }"

HEARTBEAT = (
    "mutation Heartbeat($lessonId: ID!, $video: Int!, $last: Int!, $minutes: Int!) { "
    "upsertProgress(input: {lessonId: $lessonId, videoPositionSeconds: $video, "
    "lastPositionSeconds: $last, timeSpentMinutes: $minutes}) { __typename "
    "... on UpsertProgressSuccess { progress { id lastAccessedAt } } "
    "... on Error { code message } } }"
)

BULK_COMPLETION = (
    "mutation BulkCompletion($ids: [ID!]!, $completed: Boolean!) { "
    "bulkSetCompletion(input: {lessonIds: $ids, completed: $completed}) { __typename "
    "... on BulkSetCompletionSuccess { succeeded failed summaries { completionPercentage isComplete } } "
    "... on Error { code message } } }"
)

# A good response body matches one of its operation's markers: Lua patterns (the wrk script
# checks them), spaces allowed because the floor's PostgreSQL-built JSON has them. A body with
# "errors" or an error __typename is a failure whatever it matches (see bench/lua/bench.lua).
MARK_COURSE = '"course"%s*:%s*{%s*"title"'
MARK_LESSONS = '"lessons"%s*:%s*%[%s*{'
MARK_DASHBOARD = '"enrollments"%s*:%s*%[%s*{'
MARK_UPSERT = '"__typename"%s*:%s*"UpsertProgressSuccess"'
MARK_BULK = '"failed"%s*:%s*0%s*,'
MARK_PEER_COURSE = '"courseBySlug"%s*:%s*{%s*"title"'
MARK_PEER_LESSONS = '"lessonsByCourseId"%s*:%s*{%s*"nodes"%s*:%s*%[%s*{'
MARK_PEER_DASHBOARD = '"enrollmentsByUserId"%s*:%s*{%s*"nodes"%s*:%s*%[%s*{'


class RequestKind(StrEnum):
    """How the wrk script fills a document's variables from a (learner, course) pair."""

    SLUG = "slug"  # {slug}
    NONE = "none"  # {}
    HEARTBEAT = "heartbeat"  # {lessonId (random lesson of the course), video, last, minutes}
    BULK = "bulk"  # {ids (all lessons of the course), completed (random true/false)}
    # PostGraphile has no notion of our keys: the learner is a variable (and no key is checked).
    SLUG_USER = "slug_user"  # {slug, userId}
    USER = "user"  # {userId}


@dataclass(frozen=True)
class Operation:
    name: str
    description: str
    pool: Pool
    markers: tuple[str, ...]
    # What each request sends; MIX sends the second with probability MIX_WRITE_SHARE.
    requests: tuple[tuple[RequestKind, str], ...]


_PAGE = (RequestKind.SLUG, COURSE_PAGE)
_BEAT = (RequestKind.HEARTBEAT, HEARTBEAT)

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "Q0",
            "course(slug) { title }: the fixed cost of a request",
            Pool.ANY,
            (MARK_COURSE,),
            ((RequestKind.SLUG, COURSE_TITLE),),
        ),
        Operation("Q1", "the course page, 50 lessons", Pool.SHORT, (MARK_LESSONS,), (_PAGE,)),
        Operation("Q2", "the course page, 200 lessons", Pool.LONG, (MARK_LESSONS,), (_PAGE,)),
        Operation(
            "Q3",
            "the dashboard: me { enrollments … }",
            Pool.ANY,
            (MARK_DASHBOARD,),
            ((RequestKind.NONE, DASHBOARD),),
        ),
        Operation("M1", "upsertProgress video heartbeat", Pool.SHORT, (MARK_UPSERT,), (_BEAT,)),
        Operation(
            "M2",
            "bulkSetCompletion of a course's 50 lessons",
            Pool.SHORT,
            (MARK_BULK,),
            ((RequestKind.BULK, BULK_COMPLETION),),
        ),
        Operation("MIX", "90 % Q1, 10 % M1", Pool.SHORT, (MARK_LESSONS, MARK_UPSERT), (_PAGE, _BEAT)),
    )
}

# PostGraphile's generated schema (amber preset, bench/postgraphile/): Course.summary(userId) and
# Enrollment.summary are SQL computed columns (bench/postgraphile/summary.sql); a lesson's progress
# record is the one of lessonProgressesByLessonId that matches the learner (unique on user and
# lesson); removed lessons are left out by condition, as gql_progress leaves them out.
PEER_COURSE_TITLE = "query CourseTitle($slug: String!) { courseBySlug(slug: $slug) { title } }"

PEER_COURSE_PAGE = (
    "query CoursePage($slug: String!, $userId: Int!) { courseBySlug(slug: $slug) { title "
    "summary(userId: $userId) { completionPercentage completedLessons totalLessons } "
    "lessonsByCourseId(condition: {removedAt: null}, orderBy: POSITION_ASC) { nodes { "
    "id title kind durationSeconds isRequired "
    "lessonProgressesByLessonId(condition: {userId: $userId}) { nodes { "
    "completed progressPercentage videoPositionSeconds lastPositionSeconds completedAt } } } } } }"
)

PEER_DASHBOARD = (
    "query Dashboard($userId: Int!) { userByRowId(rowId: $userId) { "
    "enrollmentsByUserId(orderBy: [ENROLLED_AT_ASC, PRIMARY_KEY_ASC]) { nodes { "
    "courseByCourseId { title } summary { completionPercentage } } } } }"
)

PEER_OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "Q0",
            OPERATIONS["Q0"].description,
            Pool.ANY,
            (MARK_PEER_COURSE,),
            ((RequestKind.SLUG, PEER_COURSE_TITLE),),
        ),
        Operation(
            "Q1",
            OPERATIONS["Q1"].description,
            Pool.SHORT,
            (MARK_PEER_LESSONS,),
            ((RequestKind.SLUG_USER, PEER_COURSE_PAGE),),
        ),
        Operation(
            "Q2",
            OPERATIONS["Q2"].description,
            Pool.LONG,
            (MARK_PEER_LESSONS,),
            ((RequestKind.SLUG_USER, PEER_COURSE_PAGE),),
        ),
        Operation(
            "Q3",
            "the dashboard: userByRowId { enrollmentsByUserId … }",
            Pool.ANY,
            (MARK_PEER_DASHBOARD,),
            ((RequestKind.USER, PEER_DASHBOARD),),
        ),
    )
}

# Operations the floor answers, and the path it answers them on.
FLOOR_PATHS: dict[str, str] = {"Q1": "/floor/course-page", "M1": "/floor/upsert-progress"}

# The share of MIX requests that are heartbeats (the rest are course pages).
MIX_WRITE_SHARE = 0.10
