"""Compiled reads (api/compiled) against the resolver path: same data, same JSON, on PostgreSQL.

Two apps share one database: one answers reads from compiled statements, the other only through
the resolvers (``compiled_reads=False``). Every document is sent to both with the learner's, the
instructor's and the admin's keys, and the parsed responses must be equal; the documents expected
to compile must also have been answered by a plan (counted), so a silent fallback cannot pass for
agreement. A hypothesis test does the same for random selections of the declared fields.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, OperationType, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bench.operations import COURSE_PAGE, COURSE_TITLE, DASHBOARD
from gql_progress.api.compiled.declarations import TYPES, Choice, Nested, Paged, Value
from gql_progress.api.compiled.planner import NotCompiled, Paging, Planner, _Builder
from gql_progress.api.schema import shared_graphql_schema
from gql_progress.auth.keys import issue_api_key
from gql_progress.domain.ids import decode_id
from gql_progress.domain.scopes import Scope
from tests.read_paths import Pair, paired_apps
from tests.test_readme_examples import readme_examples

pytestmark = pytest.mark.postgres_only


@pytest.fixture(scope="module")
async def pair(pg_template: str | None) -> AsyncIterator[Pair]:
    async with paired_apps(pg_template) as both:
        async with both.compiled.db.write() as conn:
            for statement in (WEBHOOK_OUTBOX + BUNDLES).split(";\n"):
                if statement.strip():
                    await conn.execute(text(statement))
            await conn.execute(text(EVENTS_PAST_GAPS))
            await conn.execute(text(EMPTY_COURSE))
        yield both


# Two endpoints and a delivery of every event to each, in every state (the demo data has none).
WEBHOOK_OUTBOX = """
INSERT INTO webhook_endpoints (url, description, event_types, secret, enabled, cursor_event_id,
  created_at, updated_at)
VALUES ('https://hooks.example.com/a', 'A', '["COURSE_COMPLETED", "LESSON_COMPLETED"]', 's', true, 0,
  now(), now()),
  ('https://hooks.example.com/b', '', '[]', 's', false, 0, now(), now() + interval '1 second');
INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, next_attempt_at,
  last_attempt_at, last_status_code, last_error, delivered_at, created_at)
SELECT ep.id, ev.id, (ARRAY['PENDING', 'DELIVERED', 'FAILED'])[1 + ev.id % 3],
  ev.id % 4, CASE WHEN ev.id % 3 = 0 THEN now() END, now() - interval '1 minute',
  CASE WHEN ev.id % 3 = 2 THEN 500 END, CASE WHEN ev.id % 3 = 2 THEN 'HTTP 500' END,
  CASE WHEN ev.id % 3 = 1 THEN now() END, ev.occurred_at
FROM webhook_endpoints ep, events ev;
"""

# Beside the demo's data-skills-track (courses and every kind of product; the demo enrolls the
# learner, here the instructor and the admin too): an empty bundle and one of products only, the learner and
# the admin enrolled in both, the admin having consumed two of the products (one taken back).
BUNDLES = """
INSERT INTO bundles (product_id, slug, title, description, created_at, updated_at) VALUES
  ('prod-empty', 'empty-bundle', 'Empty', '', now(), now()),
  ('prod-products', 'products-only', 'Products', '', now(), now());
INSERT INTO bundle_items (bundle_id, position, product_pk)
SELECT b.id, 2 * row_number() OVER (ORDER BY p.id), p.id FROM bundles b, products p
WHERE b.slug = 'products-only';
INSERT INTO bundle_enrollments (user_id, bundle_id, enrolled_at)
SELECT u.id, b.id, now() - interval '1 day' FROM users u, bundles b
WHERE b.slug IN ('empty-bundle', 'products-only') AND u.external_id IN ('demo-learner', 'demo-admin')
  OR b.slug = 'data-skills-track' AND u.external_id IN ('demo-instructor', 'demo-admin');
INSERT INTO product_completions (user_id, product_pk, completed, completed_at, updated_at)
SELECT u.id, p.id, p.id % 2 = 0, CASE WHEN p.id % 2 = 0 THEN now() END, now()
FROM users u, products p WHERE u.external_id = 'demo-admin' AND p.id <= 3;
"""

# Events past the demo's: after an old gap (a rolled-back id, settled), one whose data holds every
# kind of value; after a new gap (an event still being committed, its successor stamped ahead so it
# stays new however long the module runs), one a page may not reach yet.
EVENTS_PAST_GAPS = """
INSERT INTO events (id, type, occurred_at, user_id, course_id, lesson_id, actor_user_id, data)
SELECT max(id) + 2, 'CERTIFICATE_ISSUED', now() - interval '1 hour', 2, 1, NULL::int, NULL::int,
  '{"certificateId": 12, "code": "c-1", "n": 1.5, "e": 1e2, "none": null,
    "nested": {"certificateId": 3}}'::jsonb
FROM events
UNION ALL SELECT max(id) + 3, 'PROGRESS_RESET', now() - interval '1 hour', 2, NULL, NULL, 1, 'null'::jsonb
FROM events
UNION ALL SELECT max(id) + 4, 'COMPLETION_GRANTED', now() - interval '1 hour', 9999, 9999, 1, 1,
  '{"certificateId": true, "reason": "r"}'::jsonb
FROM events
UNION ALL SELECT max(id) + 6, 'LESSON_COMPLETED', now() + interval '1 hour', 2, 1, 1, 2, NULL
FROM events;
"""

# A course without lessons or learners, for analytics with nothing to count.
EMPTY_COURSE = """
INSERT INTO courses (slug, title, description, requires_sequential_progress, certificate_enabled,
  created_at, updated_at)
VALUES ('empty-course', 'Empty', '', false, false, now(), now())
"""

SLUGS = ["intro-to-sql", "python-basics", "no-such-course", "x\x00y"]


def _readme_example(root: str) -> str:
    return next(document for document, _ in readme_examples() if f"{root}(" in document)


README_BUNDLE_PROGRESS = _readme_example("bundleProgress")
README_BUNDLE_PROGRESS_BATCH = _readme_example("bundleProgressBatch")
EVERYONE = frozenset({"learner", "instructor", "admin"})
BUNDLE_PROGRESS_FIELDS = (
    "title completionPercentage weightedCompletionPercentage enrolledAt bundle { slug items { __typename } } "
    "user { email enrollments { id } } items { __typename ... on CourseItemProgress { position productId "
    "completionPercentage completed expectedCompletionDays course { slug summary { completedLessons } "
    "lessons { progressStatus } } } ... on ProductItemProgress { position productId kind completed "
    "completedAt product { __typename id title ... on Ebook { kind } } } }"
)
ADMIN = frozenset({"admin"})
LEARNER_PAGE = (
    "user { id name email externalId enrollmentsConnection { totalCount nodes { status } } "
    "enrollments { id } } status enrolledAt completedAt lastAccessedAt enrollment { id status } "
    "course { slug summary { completedLessons } } summary { completionPercentage completedLessons "
    "requiredLessons lastAccessedAt } lessons { title progressStatus progress { completedAt "
    "timeSpentMinutes } }"
)

DOCUMENTS: dict[str, tuple[str, dict[str, Any] | None, bool | frozenset[str]]] = {
    # name: (document, variables, compiles: always, never, or for these callers; the others
    # are refused by a guard, and the resolvers answer them)
    "Q0": (COURSE_TITLE, {"slug": "intro-to-sql"}, True),
    "Q1": (COURSE_PAGE, {"slug": "intro-to-sql"}, True),
    "Q3": (DASHBOARD, None, True),
    "missing-course": (COURSE_PAGE, {"slug": "no-such-course"}, True),
    "every-course-field": (
        '{ course(slug: "intro-to-sql") { id slug productId title description expectedCompletionDays '
        "requiresSequentialProgress certificateEnabled keepCompletionOnChange videoCompletionThreshold "
        "createdAt updatedAt __typename } }",
        None,
        True,
    ),
    "every-lesson-and-progress-field": (
        '{ course(slug: "intro-to-sql") { lessons { id position title kind durationSeconds isRequired '
        "passScore createdAt updatedAt removedAt progressStatus __typename progress { id status completed "
        "progressPercentage videoPositionSeconds lastPositionSeconds quizScore quizAttempts quizPassed "
        "timeSpentMinutes notes isBookmarked metadata completedAt lastAccessedAt createdAt updatedAt "
        "grantReason __typename } course { slug } } } }",
        None,
        True,
    ),
    "every-summary-field": (
        "{ me { enrollments { status enrolledAt completedAt id course { slug summary { courseId userId "
        "totalLessons completedLessons inProgressLessons requiredLessons completedRequiredLessons "
        "completionPercentage totalTimeSpentMinutes lastAccessedAt isComplete } } summary { "
        "completionPercentage isComplete totalLessons } } } }",
        None,
        True,
    ),
    # Answered from the caller row the key lookup read: compiling would add a statement.
    "me-fields": ("{ me { id externalId email name role createdAt __typename } __typename }", None, False),
    "fragments-aliases-merging": (
        "query Page($s: String!) { a: course(slug: $s) { ...C lessons { title } } "
        "b: course(slug: $s) { t: title } } "
        "fragment C on Course { title lessons { id ... on Lesson { kind } } ...D } "
        "fragment D on Course { summary { completionPercentage } }",
        {"s": "intro-to-sql"},
        True,
    ),
    "variable-default": (
        'query($s: String = "intro-to-sql") { course(slug: $s) { title } }',
        {},
        True,
    ),
    "nul-in-slug": (COURSE_TITLE, {"slug": "x\x00y"}, False),
    # Falls back: arguments, directives, fields not declared.
    "user-id-argument": (
        '{ course(slug: "intro-to-sql") { summary(userId: "VXNlcjox") { totalLessons } } }',
        None,
        False,
    ),
    "directive": (
        'query($x: Boolean!) { course(slug: "intro-to-sql") { title @include(if: $x) } }',
        {"x": True},
        False,
    ),
    "connection": ("{ me { enrollmentsConnection(first: 2) { totalCount } } }", None, True),
    "readme-dashboard": (
        "{ me { name enrollmentsConnection(first: 20) { totalCount nodes { status course { slug title } "
        "summary { completionPercentage lastAccessedAt } } } } }",
        None,
        True,
    ),
    "connection-every-field": (
        "query($n: Int, $a: String) { me { enrollmentsConnection(first: $n, after: $a) { __typename "
        "totalCount pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } "
        "edges { __typename cursor node { id status } } nodes { id } } } }",
        {"n": 1, "a": "Y3Vyc29yOjE="},
        True,
    ),
    "lessons-connection-pages": (
        'query($a: String) { course(slug: "intro-to-sql") { lessonsConnection(first: 2, after: $a) { '
        "edges { cursor node { title progressStatus progress { status } } } "
        "pageInfo { hasNextPage endCursor } } } }",
        {"a": "Y3Vyc29yOjE="},
        True,
    ),
    "courses-first-zero": (
        "{ courses(first: 0) { totalCount nodes { slug } pageInfo { hasNextPage startCursor } } }",
        None,
        True,
    ),
    "courses-default-page": (
        "{ courses { totalCount edges { cursor node { slug summary { completionPercentage } } } } }",
        None,
        True,
    ),
    "first-over-the-maximum": ("{ courses(first: 1000) { totalCount } }", None, False),
    "backward-pages": (
        "query($n: Int, $b: String) { courses(last: $n, before: $b) { totalCount pageInfo { hasNextPage "
        "hasPreviousPage startCursor endCursor } edges { cursor node { slug lessonsConnection(last: 2) { "
        "pageInfo { hasPreviousPage hasNextPage } nodes { position title } } } } } }",
        {"n": 1, "b": "Y3Vyc29yOjM="},
        True,
    ),
    "backward-to-the-end": (
        "{ me { enrollmentsConnection(last: 2) { pageInfo { hasNextPage hasPreviousPage endCursor } "
        "nodes { id } } } }",
        None,
        True,
    ),
    "last-null": ("query($n: Int) { courses(last: $n) { totalCount } }", {"n": None}, False),
    "first-and-last": ("{ courses(first: 1, last: 1) { totalCount } }", None, False),
    "last-over-the-maximum": ("{ courses(last: 1000) { totalCount } }", None, False),
    "first-negative": ("query($n: Int) { courses(first: $n) { totalCount } }", {"n": -1}, False),
    "null-for-a-non-null-variable": (
        "query($n: Int!) { courses(first: $n) { totalCount } }",
        {"n": None},
        False,
    ),
    "bad-cursor": ('{ courses(after: "nope") { totalCount } }', None, False),
    "course-by-id": ('{ course(id: "Q291cnNlOjE=") { title } }', None, False),
    "missing-variable": (COURSE_TITLE, {}, False),
    "wrong-variable-type": (COURSE_TITLE, {"slug": 5}, False),
    "invalid": ('{ course(slug: "intro-to-sql") { nope } }', None, False),
    # Roots with access guards (declarations.ROOTS): a refusal is the resolvers' to word.
    "user-by-email-self": (
        "query($e: String!) { user(email: $e) { id name enrollmentsConnection { totalCount nodes { course "
        "{ slug lessons { title progress { status completedAt } } } summary { completionPercentage } } } } }",
        {"e": " LEARNER@example.com"},
        frozenset({"learner", "admin"}),
    ),
    "user-by-external-id": (
        '{ user(externalId: "demo-instructor") { email role enrollments { id } } }',
        None,
        frozenset({"instructor", "admin"}),
    ),
    "user-by-id": ('{ user(id: "VXNlcjox") { email } }', None, frozenset({"admin"})),
    "user-nobody": ('{ user(email: "nobody@example.com") { email } }', None, ADMIN),
    "user-two-identifiers": ('{ user(email: "a@example.com", externalId: "x") { email } }', None, False),
    "user-malformed-id": ('{ user(id: "nope") { email } }', None, False),
    "user-null-variable": ("query($e: String) { user(email: $e) { email } }", {"e": None}, False),
    "completion-status": (
        "query($ids: [ID!]!) { completionStatus(lessonIds: $ids) { lessonId found completed completedAt } }",
        {"ids": ["TGVzc29uOjE=", "TGVzc29uOjQ=", "TGVzc29uOjk5OQ==", "nope", "Q291cnNlOjE=", "TGVzc29uOjE="]},
        True,
    ),
    "completion-status-literal": (
        '{ completionStatus(lessonIds: "TGVzc29uOjI=") { lessonId found completed } }',
        None,
        True,
    ),
    "completion-status-none": ("{ completionStatus(lessonIds: []) { lessonId } }", None, True),
    "completion-status-of-another": (
        '{ completionStatus(lessonIds: ["TGVzc29uOjE="], userId: "VXNlcjoy") { completed completedAt } }',
        None,
        frozenset({"admin", "learner"}),
    ),
    "completion-status-null-user": (
        'query($u: ID) { completionStatus(lessonIds: ["TGVzc29uOjE="], userId: $u) { completed } }',
        {"u": None},
        True,
    ),
    "completion-status-too-many": (
        "query($ids: [ID!]!) { completionStatus(lessonIds: $ids) { found } }",
        {"ids": ["TGVzc29uOjE="] * 501},
        False,
    ),
    "course-learners": (
        '{ course(slug: "intro-to-sql") { learners(first: 50) { totalCount nodes { ' + LEARNER_PAGE + " } "
        "pageInfo { hasNextPage endCursor } } } }",
        None,
        True,
    ),
    "course-learners-untaught": (
        '{ course(slug: "python-basics") { learners { totalCount edges { cursor node { status } } } } }',
        None,
        True,
    ),
    "learner-progress": (
        "query($l: UserRefInput!, $c: CourseRefInput!) { learnerProgress(learner: $l, course: $c) { "
        "__typename ... on LearnerProgress { " + LEARNER_PAGE + " } ... on Error { code message } "
        "...F } } fragment F on LearnerProgressResult { ... on NotFoundError { code } }",
        {"l": {"email": " Learner@Example.com"}, "c": {"slug": "intro-to-sql"}},
        frozenset({"learner", "instructor", "admin"}),
    ),
    "learner-progress-by-ids": (
        '{ learnerProgress(learner: {id: "VXNlcjoy"}, course: {id: "Q291cnNlOjE="}) { '
        "... on LearnerProgress { status lessons { progressStatus } } } }",
        None,
        frozenset({"learner", "instructor", "admin"}),
    ),
    "learner-progress-untaught": (
        '{ learnerProgress(learner: {externalId: "demo-learner"}, course: {slug: "python-basics"}) { '
        "__typename ... on LearnerProgress { status } ... on Error { code message } } }",
        None,
        frozenset({"learner", "admin"}),
    ),
    "learner-progress-not-enrolled": (
        '{ learnerProgress(learner: {externalId: "demo-admin"}, course: {productId: "prod-sql-101"}) { '
        "__typename ... on NotFoundError { code message } } }",
        None,
        frozenset(),
    ),
    "learner-progress-two-identifiers": (
        '{ learnerProgress(learner: {id: "VXNlcjoy", email: "x"}, course: {slug: "intro-to-sql"}) { '
        "__typename ... on ValidationError { code } } }",
        None,
        False,
    ),
    "learner-progress-bad-id": (
        'query($c: CourseRefInput!) { learnerProgress(learner: {id: "nope"}, course: $c) { __typename } }',
        {"c": {"slug": "intro-to-sql"}},
        False,
    ),
    "node-fragment-on-an-interface": (
        '{ course(slug: "intro-to-sql") { ... on Node { id } lessons { ... on Node { id } title } } }',
        None,
        True,
    ),
    "study-plans-readme": (
        "{ me { studyPlanInstances { totalCount nodes { id startedAt plan { title } completionPercentage "
        "completedResources resources { position completed completedAt lesson { title } } } } } }",
        None,
        True,
    ),
    "study-plans-every-field": (
        "{ me { studyPlans(last: 3) { nodes { id title createdAt updatedAt owner { email } lessons { id "
        "progressStatus progress { status } } instances { totalCount nodes { id user { name } "
        "plan { id } completionPercentage } } } } studyPlanInstances(first: 1) { edges { cursor node { "
        "resources { position completed completedAt lesson { title progress { completedAt } } } } } "
        "pageInfo { hasNextPage } } } }",
        None,
        True,
    ),
    # Another user's plans answer empty (the owner and admins see them).
    "study-plans-of-another": (
        '{ user(externalId: "demo-learner") { studyPlanInstances { totalCount nodes { id } } } '
        'learnerProgress(learner: {externalId: "demo-learner"}, course: {slug: "intro-to-sql"}) { '
        "... on LearnerProgress { user { studyPlans { totalCount } studyPlanInstances { nodes { "
        "completionPercentage } } } } } }",
        None,
        frozenset({"learner", "admin"}),
    ),
    "bundle-readme": (
        '{ bundle(slug: "data-skills-track") { title items { __typename ... on Course { slug title } '
        "... on Product { productId kind title } } } }",
        None,
        True,
    ),
    "bundle-every-field": (
        "query($p: String!) { bundle(productId: $p) { id productId slug title description createdAt "
        "updatedAt __typename items { __typename ... on Node { id } ... on Course { lessons { title "
        "progressStatus } summary { completionPercentage } } ... on Contest { kind createdAt } "
        "... on Ebook { description updatedAt } ...P } } } fragment P on Product { productId title }",
        {"p": "prod-data-track"},
        True,
    ),
    "bundle-by-id-and-missing": (
        '{ a: bundle(id: "QnVuZGxlOjE=") { slug } b: bundle(slug: "no-such-bundle") { slug } }',
        None,
        True,
    ),
    "bundle-bad-id": ('{ bundle(id: "nope") { slug } }', None, False),
    "bundles": (
        "{ bundles(last: 5) { totalCount nodes { slug items { __typename } } "
        "pageInfo { hasPreviousPage } } }",
        None,
        True,
    ),
    "webhook-deliveries": (
        "query($s: WebhookDeliveryStatus, $n: Int) { webhookDeliveries(status: $s, first: $n) { totalCount "
        "nodes { id eventId eventType status attempts lastStatusCode lastError lastAttemptAt nextAttemptAt "
        "deliveredAt createdAt endpoint { id url description eventTypes enabled createdAt updatedAt } } "
        "pageInfo { hasNextPage endCursor } } }",
        {"s": "FAILED", "n": 3},
        ADMIN,
    ),
    "webhook-deliveries-readme": (
        "{ webhookDeliveries(status: PENDING, first: 20) { totalCount nodes { eventId eventType status "
        "attempts lastStatusCode lastError nextAttemptAt deliveredAt endpoint { url } } } }",
        None,
        ADMIN,
    ),
    "webhook-deliveries-of-an-endpoint": (
        "query($e: ID) { webhookDeliveries(endpointId: $e, last: 2) { edges { cursor node { status } } } }",
        {"e": "V2ViaG9va0VuZHBvaW50OjI="},
        ADMIN,
    ),
    "webhook-deliveries-bad-endpoint": (
        '{ webhookDeliveries(endpointId: "nope") { totalCount } }',
        None,
        False,
    ),
    # bundleProgress(Batch): every answer compiles, the error members too (a learner naming
    # someone else, no such bundle or user, not enrolled); a malformed ref is the resolvers'.
    "bundle-progress-readme": (README_BUNDLE_PROGRESS, None, True),
    "bundle-progress-every-field": (
        "query($b: BundleRefInput!, $u: UserRefInput) { bundleProgress(bundle: $b, user: $u) { __typename "
        "...on BundleProgress { " + BUNDLE_PROGRESS_FIELDS + " } ... on Error { code message } } }",
        {"b": {"productId": "prod-data-track"}, "u": {"externalId": "demo-learner"}},
        True,
    ),
    "bundle-progress-by-id-of-self": (
        '{ bundleProgress(bundle: {id: "QnVuZGxlOjE="}, user: null) { ... on BundleProgress { title '
        "completionPercentage } } }",
        None,
        True,
    ),
    "bundle-progress-products-only": (
        'query($u: UserRefInput) { bundleProgress(bundle: {slug: "products-only"}, user: $u) { '
        "... on BundleProgress { " + BUNDLE_PROGRESS_FIELDS + " } } }",
        {"u": {"email": " Admin@Example.com"}},
        True,
    ),
    "bundle-progress-products-only-own": (
        '{ bundleProgress(bundle: {slug: "products-only"}) { ... on BundleProgress { '
        + BUNDLE_PROGRESS_FIELDS
        + " } } }",
        None,
        True,
    ),
    "bundle-progress-empty": (
        '{ bundleProgress(bundle: {slug: "empty-bundle"}) { ... on BundleProgress { title '
        "completionPercentage weightedCompletionPercentage items { __typename } } } }",
        None,
        True,
    ),
    "bundle-progress-missing": (
        '{ bundleProgress(bundle: {slug: "no-such-bundle"}) { __typename ... on Error { code message } } }',
        None,
        True,
    ),
    "bundle-progress-missing-user": (
        '{ bundleProgress(bundle: {slug: "empty-bundle"}, user: {externalId: "nobody"}) { __typename '
        "... on Error { code message } } }",
        None,
        True,
    ),
    "bundle-progress-bad-id": (
        '{ bundleProgress(bundle: {id: "nope"}) { __typename ... on ValidationError { fields { path } } } }',
        None,
        False,
    ),
    "bundle-progress-batch-readme": (README_BUNDLE_PROGRESS_BATCH, None, True),
    # Every pair answered for admins; a learner naming the admin gets FORBIDDEN for that pair.
    "bundle-progress-batch": (
        "query($r: [BundleProgressRequestInput!]!) { bundleProgressBatch(requests: $r) { __typename "
        "... on BundleProgress { " + BUNDLE_PROGRESS_FIELDS + " } ... on Error { code } } }",
        {
            "r": [
                {"bundle": {"slug": "data-skills-track"}, "user": {"externalId": "demo-learner"}},
                {"bundle": {"slug": "products-only"}, "user": {"externalId": "demo-admin"}},
                {"bundle": {"productId": "prod-empty"}, "user": {"email": "learner@example.com"}},
                {"bundle": {"id": "QnVuZGxlOjE="}, "user": {"id": "VXNlcjoy"}},
            ]
        },
        True,
    ),
    # Every refusal in one batch, each member's fields asked its own way (aliases, the interface,
    # a member's fragment; ValidationError's fields, which no compiled row is, selected too).
    "bundle-progress-batch-every-refusal": (
        "query($r: [BundleProgressRequestInput!]!) { bundleProgressBatch(requests: $r) { kind: __typename "
        "... on Error { code why: message } ... on NotFoundError { message } ... on ForbiddenError { "
        "__typename code } ... on NotEnrolledError { message } ... on ValidationError { fields { path } } "
        "... on BundleProgress { title user { externalId } } } }",
        {
            "r": [
                {"bundle": {"id": "QnVuZGxlOjk5OQ=="}},
                {"bundle": {"slug": "no-such-bundle"}, "user": {"id": "VXNlcjo5OTk="}},
                {"bundle": {"slug": "empty-bundle"}, "user": {"email": "NOBODY@example.com"}},
                {"bundle": {"slug": "products-only"}, "user": {"externalId": "demo-instructor"}},
                {"bundle": {"slug": "data-skills-track"}},
                {"bundle": {"productId": "prod-products"}, "user": {"email": " Learner@Example.com"}},
                {"bundle": {"slug": "empty-bundle"}, "user": {"externalId": "demo-admin"}},
            ]
        },
        True,
    ),
    "bundle-progress-batch-own": (
        "query($r: [BundleProgressRequestInput!]!) { bundleProgressBatch(requests: $r) { "
        "... on BundleProgress { title weightedCompletionPercentage user { externalId } } } }",
        {"r": [{"bundle": {"slug": "empty-bundle"}}, {"bundle": {"slug": "products-only"}, "user": None}]},
        True,
    ),
    "bundle-progress-batch-one": (
        '{ bundleProgressBatch(requests: {bundle: {slug: "products-only"}}) { ... on BundleProgress { '
        "items { ... on ProductItemProgress { kind completed } } } } }",
        None,
        True,
    ),
    "bundle-progress-batch-none": (
        "{ bundleProgressBatch(requests: []) { __typename } }",
        None,
        True,
    ),
    "bundle-progress-batch-too-long": (
        "query($r: [BundleProgressRequestInput!]!) { bundleProgressBatch(requests: $r) { __typename } }",
        {"r": [{"bundle": {"slug": "empty-bundle"}}] * 101},
        False,
    ),
    "events-readme": (
        "{ events(types: [COURSE_COMPLETED, CERTIFICATE_ISSUED], first: 50) { nodes { type occurredAt "
        "userExternalId courseProductId lessonId actorId data } pageInfo { endCursor hasNextPage } } }",
        None,
        ADMIN,
    ),
    "events-every-field": (
        "query($n: Int, $a: String) { events(first: $n, after: $a) { __typename totalCount pageInfo { "
        "hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { __typename id type "
        "occurredAt userId courseId lessonId actorId data userExternalId courseProductId ... on Node { id } "
        "} } nodes { id } } }",
        {"n": 3, "a": "Y3Vyc29yOjI="},
        ADMIN,
    ),
    "events-filters": (
        "query($t: [EventType!], $u: ID, $c: ID) { events(types: $t, userId: $u, courseId: $c) { "
        "totalCount nodes { id type } pageInfo { hasNextPage endCursor } } }",
        {"t": ["LESSON_COMPLETED", "COURSE_COMPLETED"], "u": "VXNlcjoy", "c": "Q291cnNlOjE="},
        ADMIN,
    ),
    "events-one-type-no-types-null-ids": (
        "query($u: ID) { a: events(types: LESSON_COMPLETED, first: 2) { totalCount nodes { type } } "
        "b: events(types: [], userId: $u, courseId: null) { totalCount } }",
        {"u": None},
        ADMIN,
    ),
    # The page ends at the event before the one whose predecessor is still committing (below).
    "events-past-the-settled": (
        "{ events(first: 100) { totalCount edges { cursor node { id } } pageInfo { hasNextPage "
        "endCursor } } }",
        None,
        ADMIN,
    ),
    "events-first-zero": (
        "{ events(first: 0) { totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage "
        "startCursor } } }",
        None,
        ADMIN,
    ),
    "events-of-nobody": (
        '{ events(userId: "VXNlcjo5OTk5", after: "Y3Vyc29yOjE=") { totalCount nodes { id } '
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
        None,
        ADMIN,
    ),
    "events-bad-user-id": ('{ events(userId: "nope") { totalCount } }', None, False),
    "events-over-the-maximum": ("{ events(first: 1000) { totalCount } }", None, False),
    "analytics-readme": (
        '{ courseAnalytics(course: {slug: "intro-to-sql"}, from: "2026-01-01T00:00:00Z") { enrolledLearners '
        "activeLearners completionRate averageCompletionPercentage medianTimeToCompletionDays "
        "totalActiveSeconds averageActiveSeconds lessons { lesson { title } started completed "
        "completionRate averageActiveSeconds averageWatchedRatio averageQuizScore } dropOff { lesson { "
        "title } reached dropOffRate } hardestLessons(limit: 3) { lesson { title } started "
        "completionRateAmongStarted } } }",
        None,
        True,
    ),
    "analytics-every-field": (
        "query($c: CourseRefInput!, $f: DateTime, $t: DateTime, $n: Int!, $m: Int) { "
        "courseAnalytics(course: $c, from: $f, to: $t) { __typename course { slug title lessons { id } } "
        "from to enrolledLearners activeLearners completedLearners completionRate "
        "averageCompletionPercentage medianTimeToCompletionDays p90TimeToCompletionDays "
        "totalActiveSeconds averageActiveSeconds lessonsCompleted coursesCompleted "
        "lessons { __typename lesson { id position progressStatus } started completed completionRate "
        "averageTimeSpentMinutes averageActiveSeconds averageWatchedRatio averageQuizScore quizPassRate } "
        "dropOff { __typename lesson { id } reached reachedRate lost dropOffRate } "
        "hardestLessons(limit: $n, minSampleSize: $m) { __typename lesson { id title } started completed "
        "completionRateAmongStarted } all: hardestLessons(limit: 100) { lesson { position } } } }",
        {"c": {"productId": "prod-sql-101"}, "f": None, "t": "2099-01-01T00:00:00+02:00", "n": 2, "m": 1},
        True,
    ),
    "analytics-by-id-untaught-missing-empty": (
        '{ a: courseAnalytics(course: {id: "Q291cnNlOjE="}) { enrolledLearners lessons { started } } '
        'b: courseAnalytics(course: {slug: "python-basics"}) { enrolledLearners dropOff { lost } } '
        'c: courseAnalytics(course: {slug: "no-such-course"}) { enrolledLearners } '
        'd: courseAnalytics(course: {slug: "empty-course"}) { enrolledLearners completionRate '
        "averageCompletionPercentage medianTimeToCompletionDays averageActiveSeconds totalActiveSeconds "
        "lessons { started } dropOff { reached } hardestLessons { started } } }",
        None,
        True,
    ),
    "analytics-empty-window-with-an-offset": (
        '{ courseAnalytics(course: {slug: "intro-to-sql"}, from: "2090-01-01T02:00:00+02:00", '
        'to: "2090-01-01T02:00:00.5+02:00") { from to enrolledLearners completionRate '
        "averageCompletionPercentage medianTimeToCompletionDays lessons { completionRate "
        "averageTimeSpentMinutes } dropOff { reachedRate dropOffRate } } }",
        None,
        True,
    ),
    "analytics-to-before-from": (
        '{ courseAnalytics(course: {slug: "intro-to-sql"}, from: "2026-01-02T00:00:00Z", '
        'to: "2026-01-01T00:00:00Z") { enrolledLearners } }',
        None,
        frozenset(),
    ),
    "analytics-without-an-offset": (
        '{ courseAnalytics(course: {slug: "intro-to-sql"}, from: "2026-01-01T00:00:00") { '
        "enrolledLearners } }",
        None,
        False,
    ),
    "analytics-limit-out-of-range": (
        '{ courseAnalytics(course: {slug: "intro-to-sql"}) { hardestLessons(limit: 0) { started } } }',
        None,
        False,
    ),
    "analytics-min-sample-zero": (
        'query($m: Int) { courseAnalytics(course: {slug: "intro-to-sql"}) { enrolledLearners '
        "hardestLessons(minSampleSize: $m) { started } } }",
        {"m": 0},
        False,
    ),
    "analytics-two-identifiers": (
        '{ courseAnalytics(course: {slug: "intro-to-sql", id: "Q291cnNlOjE="}) { enrolledLearners } }',
        None,
        False,
    ),
    # Variables inside input objects and lists: bound at each request like any other.
    "analytics-variable-in-an-object": (
        "query($s: String!) { courseAnalytics(course: {slug: $s}) { enrolledLearners } }",
        {"s": "intro-to-sql"},
        True,
    ),
    "learner-progress-variables-in-objects": (
        "query($e: String!, $s: String!) { learnerProgress(learner: {email: $e}, course: {slug: $s}) { "
        "__typename ... on LearnerProgress { status } ... on Error { code message } } }",
        {"e": " Learner@Example.com", "s": "intro-to-sql"},
        frozenset({"learner", "instructor", "admin"}),
    ),
    # A one-of input's variables must be non-null: a validation error, the resolvers' to word.
    "learner-progress-one-of-by-nullable-variables": (
        "query($e: String, $x: String) { learnerProgress(learner: {email: $e, externalId: $x}, "
        'course: {slug: "intro-to-sql"}) { __typename ... on ValidationError { code } } }',
        {"e": "learner@example.com"},
        False,
    ),
    "events-variable-in-a-list": (
        "query($t: EventType!) { events(types: [$t, LESSON_COMPLETED]) { totalCount nodes { type } } }",
        {"t": "COURSE_COMPLETED"},
        ADMIN,
    ),
    "course-learners-status": (
        '{ course(slug: "intro-to-sql") { learners(status: COMPLETED) { totalCount } } }',
        None,
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
@pytest.mark.parametrize("who", ["learner", "instructor", "admin"])
async def test_compiled_and_resolver_answers_are_identical(pair: Pair, name: str, who: str) -> None:
    document, variables, compiles = DOCUMENTS[name]
    key = getattr(pair.keys, who).secret
    before = pair.plans.answered
    refused_before = pair.plans.refused

    fast, slow = await pair.both(document, variables, key)

    assert fast == slow
    answered = who in compiles if isinstance(compiles, frozenset) else compiles
    assert pair.plans.answered == before + (1 if answered else 0)
    guarded = isinstance(compiles, frozenset) and not answered
    assert pair.plans.refused == refused_before + (1 if guarded else 0)


async def test_the_course_page_is_one_statement_besides_the_key(pair: Pair) -> None:
    key = pair.keys.learner.secret
    pair.compiled.db.statements.reset()
    await pair.compiled.post(COURSE_PAGE, {"slug": "intro-to-sql"}, key=key)
    assert pair.compiled.db.statements.count == 2  # the key lookup and the compiled statement


@pytest.mark.parametrize("pairs", [1, 50])
async def test_a_bundle_progress_batch_is_one_statement_besides_the_key_for_1_or_50_pairs(
    pair: Pair, pairs: int
) -> None:
    requests = [{"bundle": {"slug": slug}} for slug in ("data-skills-track", "products-only")] * 25
    document = (
        "query($r: [BundleProgressRequestInput!]!) { bundleProgressBatch(requests: $r) { __typename "
        "... on BundleProgress { title completionPercentage weightedCompletionPercentage items { "
        "__typename ... on CourseItemProgress { completionPercentage course { title } } } } } }"
    )
    before = pair.plans.answered
    pair.compiled.db.statements.reset()

    response = await pair.compiled.post(document, {"r": requests[:pairs]}, key=pair.keys.learner.secret)

    assert len(response.json()["data"]["bundleProgressBatch"]) == pairs
    assert pair.plans.answered == before + 1
    assert pair.compiled.db.statements.count == 2  # the key lookup and the compiled statement


# The README's second pair names no bundle, for the demo learner: NOT_FOUND, but FORBIDDEN for
# the instructor, who may ask only about themselves (the check that comes first).
@pytest.mark.parametrize(
    ("who", "code"), [("learner", "NOT_FOUND"), ("instructor", "FORBIDDEN"), ("admin", "NOT_FOUND")]
)
async def test_the_readme_batch_with_an_unknown_bundle_is_compiled_not_handed_to_the_resolvers(
    pair: Pair, who: str, code: str
) -> None:
    before, refused_before = pair.plans.answered, pair.plans.refused
    pair.compiled.db.statements.reset()

    fast, slow = await pair.both(README_BUNDLE_PROGRESS_BATCH, None, getattr(pair.keys, who).secret)

    assert pair.compiled.db.statements.count == 2  # the key lookup and the compiled statement
    assert fast == slow
    assert fast["data"]["bundleProgressBatch"][1]["code"] == code  # an error member, from the statement
    assert (pair.plans.answered, pair.plans.refused) == (before + 1, refused_before)


async def test_a_key_without_the_read_scope_is_refused_as_before(pair: Pair) -> None:
    learner = await pair.compiled.data("{ me { id } }", key=pair.keys.learner.secret)
    user_id = decode_id(learner["me"]["id"], "User", ("id",))
    key = await issue_api_key(pair.compiled.db, user_id, scopes=[Scope.PROGRESS_WRITE])
    fast, slow = await pair.both(COURSE_TITLE, {"slug": "intro-to-sql"}, key.secret)
    assert fast == slow
    assert fast["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- random selections of the declared fields ------------------------------------------------------


PAGES = [
    "",
    "(first: 0)",
    "(first: 1)",
    "(first: 3)",
    '(first: 2, after: "Y3Vyc29yOjE=")',
    "(last: 2)",
    "(last: 0)",
    '(last: 1, before: "Y3Vyc29yOjM=")',
    '(first: 5, before: "Y3Vyc29yOjM=")',
    '(last: 5, after: "Y3Vyc29yOjE=", before: "Y3Vyc29yOjQ=")',
]


def _selection(type_name: str, depth: int, prefix: str = "") -> st.SearchStrategy[str]:
    """A selection set of declared fields of ``type_name`` (aliases, __typename, fragments);
    with a ``prefix``, every field aliased by it (a union's members may have same-named fields
    of other types, which GraphQL refuses to merge under one key)."""
    fields = TYPES[type_name]
    leaves = sorted(name for name, field in fields.items() if isinstance(field, Value))
    deeper = (
        sorted(name for name, field in fields.items() if not isinstance(field, Value)) if depth < 3 else []
    )

    def one(name: str) -> st.SearchStrategy[str]:
        field = fields[name]
        alias = st.sampled_from([f"{prefix}{name}: "] if prefix else ["", f"{name}Alias: "])
        if isinstance(field, Choice):
            # A union or interface: a selection per member type, chosen at random.
            member = st.sampled_from([m.type_name for m in field.members]).flatmap(
                lambda t: _selection(t, depth + 1, f"{t}_").map(lambda i: f"... on {t} {{ {i} }}")
            )
            return st.builds(
                lambda a, ms: f"{a}{name} {{ __typename {' '.join(ms)} }}",
                alias,
                st.lists(member, min_size=1, max_size=2),
            )
        if isinstance(field, Nested):
            inner = _selection(field.type_name, depth + 1)
            return st.builds(lambda a, i: f"{a}{name} {{ {i} }}", alias, inner)
        if isinstance(field, Paged):
            # The alias names the arguments: one response key never has two sets of them.
            return st.builds(
                lambda page, i: f"{prefix}{name}P{page}: {name}{PAGES[page]} {{ {i} }}",
                st.integers(0, len(PAGES) - 1),
                _connection(field.node_type, depth + 1),
            )
        return st.builds(lambda a: f"{a}{name}", alias)

    item = st.sampled_from(["__typename", *leaves, *deeper]).flatmap(
        lambda name: st.just("__typename") if name == "__typename" else one(name)
    )
    items = st.lists(item, min_size=1, max_size=6)

    def group(xs: list[str], inline: bool) -> str:
        return f"... on {type_name} {{ {' '.join(xs)} }}" if inline else " ".join(xs)

    wrapped = st.builds(group, items, st.booleans())
    return st.lists(wrapped, min_size=1, max_size=2).map(" ".join)


def _connection(node_type: str, depth: int) -> st.SearchStrategy[str]:
    parts = st.sampled_from(
        [
            "totalCount",
            "__typename",
            "pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename }",
            "edges { cursor __typename node { NODE } }",
            "nodes { NODE }",
        ]
    )
    return st.builds(
        lambda chosen, node: " ".join(dict.fromkeys(chosen)).replace("NODE", node),
        st.lists(parts, min_size=1, max_size=4),
        _selection(node_type, depth),
    )


ROOTS = st.one_of(
    st.builds(
        lambda s, slug: f'{{ course(slug: "{slug}") {{ {s} }} }}',
        _selection("Course", 0),
        st.sampled_from(SLUGS[:3]),
    ),
    # With one nested field at least: `me` with leaves alone takes the resolvers (see me-fields).
    st.builds(lambda s: f"{{ me {{ {s} enrollments {{ id }} }} }}", _selection("User", 0)),
    st.builds(lambda s: f"{{ courses(first: 3) {{ {s} }} }}", _connection("Course", 1)),
    # WHO: the caller's own demo user, whom every caller may look up.
    st.builds(lambda s: f'{{ user(externalId: "demo-WHO") {{ {s} }} }}', _selection("User", 0)),
    # The demo learner in the course the demo instructor teaches: every caller may see it.
    st.builds(
        lambda s: (
            '{ learnerProgress(learner: {externalId: "demo-learner"}, course: {slug: "intro-to-sql"}) '
            f"{{ ... on LearnerProgress {{ {s} }} }} }}"
        ),
        _selection("LearnerProgress", 0),
    ),
    st.builds(
        lambda s: f'{{ completionStatus(lessonIds: ["TGVzc29uOjE=", "TGVzc29uOjk="]) {{ {s} }} }}',
        _selection("LessonCompletion", 0),
    ),
    # Bundles every caller is enrolled in (BUNDLES), alone and in a batch naming the caller.
    st.builds(
        lambda s: (
            '{ bundleProgress(bundle: {slug: "data-skills-track"}) '
            f"{{ ... on BundleProgress {{ {s} }} }} }}"
        ),
        _selection("BundleProgress", 0),
    ),
    st.builds(
        lambda s: (
            '{ bundleProgressBatch(requests: [{bundle: {productId: "prod-data-track"}, '
            'user: {externalId: "demo-WHO"}}, {bundle: {slug: "data-skills-track"}}]) '
            f"{{ ... on BundleProgress {{ {s} }} }} }}"
        ),
        _selection("BundleProgress", 0),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=ROOTS, who=st.sampled_from(["learner", "instructor", "admin"]))
async def test_random_selections_answer_alike(pair: Pair, document: str, who: str) -> None:
    before = pair.plans.answered
    document = document.replace("WHO", who)
    fast, slow = await pair.both(document, None, getattr(pair.keys, who).secret)
    assert "errors" not in fast, fast
    assert fast == slow, document
    assert pair.plans.answered == before + 1, "every selection of declared fields compiles"


# --- analytics over random cohorts -----------------------------------------------------------------

ANALYTICS = (
    "query($c: CourseRefInput!, $f: DateTime, $t: DateTime, $m: Int) { courseAnalytics(course: $c, "
    "from: $f, to: $t) { from to enrolledLearners activeLearners completedLearners completionRate "
    "averageCompletionPercentage medianTimeToCompletionDays p90TimeToCompletionDays totalActiveSeconds "
    "averageActiveSeconds lessonsCompleted coursesCompleted lessons { lesson { id } started completed "
    "completionRate averageTimeSpentMinutes averageActiveSeconds averageWatchedRatio averageQuizScore "
    "quizPassRate } dropOff { lesson { id } reached reachedRate lost dropOffRate } "
    "hardestLessons(limit: 100, minSampleSize: $m) { lesson { id } started completed "
    "completionRateAmongStarted } } }"
)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# Moments to the microsecond within a month, so windows, ranks and durations meet ties and not.
moments = st.integers(0, 30 * 86_400 * 10**6).map(lambda us: EPOCH + timedelta(microseconds=us))
scores = st.sampled_from([0.0, 33.3, 50.0, 87.5, 99.99, 100.0]) | st.floats(0, 100)
records = st.fixed_dictionaries(
    {
        "completed": st.booleans(),
        "minutes": st.integers(0, 600),
        "active": st.integers(0, 7200),
        "video": st.integers(0, 1500),
        "score": st.none() | scores,
        "passed": st.none() | st.booleans(),
        "at": moments,
    }
)
lessons = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["VIDEO", "QUIZ", "ARTICLE"]),
        "duration": st.none() | st.integers(0, 1200),
        "required": st.booleans(),
    }
)


@st.composite
def cohorts(draw: st.DrawFn) -> dict[str, Any]:
    course = draw(st.lists(lessons, max_size=5))
    learners = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "enrolled": moments,
                    "done_after": st.none() | st.integers(0, 20 * 86_400 * 10**6),
                    "records": st.lists(st.none() | records, min_size=len(course), max_size=len(course)),
                }
            ),
            max_size=7,
        )
    )
    bounds = st.none() | moments
    return {"lessons": course, "learners": learners, "from": draw(bounds), "to": draw(bounds)}


COHORT_LESSON = """
INSERT INTO lessons (course_id, position, title, kind, is_required, duration_seconds, created_at, updated_at)
VALUES (:c, :p, 'L', :k, :r, :d, now(), now()) RETURNING id
"""
COHORT_RECORD = """
INSERT INTO lesson_progress (user_id, lesson_id, completed, progress_percentage, video_position_seconds,
  last_position_seconds, quiz_score, quiz_passed, quiz_attempts, time_spent_minutes, active_seconds,
  is_bookmarked, completed_at, last_accessed_at, created_at, updated_at)
VALUES (:u, :l, :c, 0, :v, 0, :q, :p, 0, :m, :a, false, :ca, :at, :at, :at)
"""


async def _seed_cohort(pair: Pair, cohort: dict[str, Any]) -> str:
    slug = f"cohort-{uuid.uuid4().hex}"
    async with pair.compiled.db.write() as conn:
        course = await conn.scalar(
            text(
                "INSERT INTO courses (slug, title, description, requires_sequential_progress, "
                "certificate_enabled, created_at, updated_at) "
                "VALUES (:slug, 'Cohort', '', false, false, now(), now()) RETURNING id"
            ),
            {"slug": slug},
        )
        lesson_ids = []
        for position, lesson in enumerate(cohort["lessons"]):
            lesson_ids.append(
                await conn.scalar(
                    text(COHORT_LESSON),
                    {
                        "c": course,
                        "p": position,
                        "k": lesson["kind"],
                        "r": lesson["required"],
                        "d": lesson["duration"],
                    },
                )
            )
        for learner in cohort["learners"]:
            name = uuid.uuid4().hex
            user = await conn.scalar(
                text(
                    "INSERT INTO users (external_id, email, name, role, created_at) "
                    "VALUES (:n, :e, :n, 'LEARNER', now()) RETURNING id"
                ),
                {"n": name, "e": f"{name}@example.com"},
            )
            done = learner["done_after"]
            completed_at = None if done is None else learner["enrolled"] + timedelta(microseconds=done)
            await conn.execute(
                text(
                    "INSERT INTO enrollments (user_id, course_id, enrolled_at, status, completed_at) "
                    "VALUES (:u, :c, :e, :s, :d)"
                ),
                {
                    "u": user,
                    "c": course,
                    "e": learner["enrolled"],
                    "s": "ACTIVE" if done is None else "COMPLETED",
                    "d": completed_at,
                },
            )
            for lesson_id, record in zip(lesson_ids, learner["records"], strict=True):
                if record is None:
                    continue
                await conn.execute(
                    text(COHORT_RECORD),
                    {
                        "u": user,
                        "l": lesson_id,
                        "c": record["completed"],
                        "v": record["video"],
                        "q": record["score"],
                        "p": record["passed"],
                        "m": record["minutes"],
                        "a": record["active"],
                        "ca": record["at"] if record["completed"] else None,
                        "at": record["at"],
                    },
                )
    return slug


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cohort=cohorts(), min_sample=st.none() | st.integers(1, 3))
async def test_course_analytics_of_random_cohorts_answer_alike(
    pair: Pair, cohort: dict[str, Any], min_sample: int | None
) -> None:
    slug = await _seed_cohort(pair, cohort)
    start, end = cohort["from"], cohort["to"]
    if start is not None and end is not None and end < start:
        start, end = end, start
    variables = {
        "c": {"slug": slug},
        "f": None if start is None else start.isoformat(),
        "t": None if end is None else end.isoformat(),
        "m": min_sample,
    }
    before = pair.plans.answered
    fast, slow = await pair.both(ANALYTICS, variables, pair.key("admin"))
    assert "errors" not in fast, fast
    assert fast == slow
    assert pair.plans.answered == before + 1


# --- planning work ----------------------------------------------------------------------------------


class _CountedFragments(dict[str, FragmentDefinitionNode]):
    """The document's fragments, counting how often the planner looks one up (one per walk)."""

    lookups = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.lookups += 1
        return super().get(key, default)


@pytest.mark.parametrize("levels", [10, 30, 60])
def test_planning_walks_each_fragment_once_however_often_it_is_spread(levels: int) -> None:
    # F(i) spreads F(i-1) twice: walking every spread would look fragments up 2^levels times
    # (tests/test_request_gate_attacks.py measures the gate's side of the same document).
    fragments = ['fragment F0 on Query { course(slug: "intro-to-sql") { lessons { id } } }']
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels)]
    document = parse(f"query {{ ...F{levels - 1} }}\n" + "\n".join(fragments))
    counted = _CountedFragments(
        (d.name.value, d) for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    )
    schema = shared_graphql_schema(False)._schema
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)

    sql = _Builder(schema, counted).root(operation.selection_set)

    assert counted.lookups == levels
    assert sql.count("'lessons'") == 1


async def test_a_time_sum_past_the_int_range_is_answered_as_graphql_core_refuses_it(
    pg_template: str | None,
) -> None:
    # 220 records of 10,000,000 minutes (the most one may hold) sum past 2^31 - 1: the resolvers
    # report graphql-core's "Int cannot represent" error and null the non-null chain up to
    # `course`; the compiled statement must not print the number.
    async with paired_apps(pg_template) as apart:
        async with apart.compiled.db.write() as conn:
            await conn.execute(
                text(
                    "INSERT INTO lessons "
                    "(course_id, position, title, kind, is_required, created_at, updated_at) "
                    "SELECT c.id, 1000 + n, 'Long ' || n, 'VIDEO', true, now(), now() "
                    "FROM courses c, generate_series(1, 220) n WHERE c.slug = 'intro-to-sql'"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO lesson_progress (user_id, lesson_id, completed, progress_percentage, "
                    "video_position_seconds, last_position_seconds, quiz_attempts, time_spent_minutes, "
                    "is_bookmarked, created_at, updated_at) "
                    "SELECT u.id, l.id, false, 0, 0, 0, 0, 10000000, false, now(), now() "
                    "FROM users u, lessons l WHERE u.external_id = 'demo-learner' AND l.position > 1000"
                )
            )
        document = '{ course(slug: "intro-to-sql") { title summary { totalLessons totalTimeSpentMinutes } } }'
        fast, slow = await apart.both(document, None, apart.key("learner"))
        assert fast == slow
        assert fast["data"] == {"course": None}
        assert fast["errors"][0]["path"] == ["course", "summary", "totalTimeSpentMinutes"]
        # Without the total the same course compiles and answers.
        before = apart.plans.answered
        fast, slow = await apart.both(
            '{ course(slug: "intro-to-sql") { summary { totalLessons } } }', None, apart.key("learner")
        )
        assert fast == slow
        assert apart.plans.answered == before + 1


# --- the README's read examples ---------------------------------------------------------------------

# Every README read example's root field compiles; none takes the resolver path.
README_FALLBACKS: set[str] = set()


def _root_name(document: str) -> str:
    [operation] = parse(document).definitions
    assert isinstance(operation, OperationDefinitionNode)
    [field] = operation.selection_set.selections
    assert isinstance(field, FieldNode)
    if field.name.value == "me" and field.selection_set is not None:
        nested = [s.name.value for s in field.selection_set.selections if isinstance(s, FieldNode)]
        return "me." + ".".join(n for n in nested if n not in {"name", "id"})
    return field.name.value


def test_the_readme_read_examples_compile_except_the_listed_roots() -> None:
    schema = shared_graphql_schema(False)._schema
    planner = Planner(schema, Paging(20, 100))
    compiled, fell_back = set(), set()
    for document, _ in readme_examples():
        [operation] = parse(document).definitions
        assert isinstance(operation, OperationDefinitionNode)
        if operation.operation is not OperationType.QUERY:
            continue
        try:
            planner.plan(parse(document), None)
            compiled.add(_root_name(document))
        except NotCompiled:
            fell_back.add(_root_name(document))
    assert fell_back == README_FALLBACKS
    assert compiled == {
        "course",
        "me.enrollmentsConnection",
        "me.studyPlanInstances",
        "completionStatus",
        "user",
        "learnerProgress",
        "webhookDeliveries",
        "bundle",
        "bundleProgress",
        "bundleProgressBatch",
        "events",
        "courseAnalytics",
    }


async def test_an_event_page_stops_before_an_event_still_being_committed(pair: Pair) -> None:
    # EVENTS_PAST_GAPS: the old gap is passed, the new one is not, on both paths alike.
    document = DOCUMENTS["events-past-the-settled"][0]
    before = pair.plans.answered
    fast, slow = await pair.both(document, None, pair.key("admin"))
    assert fast == slow
    assert pair.plans.answered == before + 1
    page = fast["data"]["events"]
    ids = [decode_id(edge["node"]["id"], "Event", ("id",)) for edge in page["edges"]]
    async with pair.compiled.db.read() as conn:
        newest = int(await conn.scalar(text("SELECT max(id) FROM events")) or 0)
    assert ids[-1] == newest - 2  # the settled side of the new gap
    assert ids[-3:] == [newest - 4, newest - 3, newest - 2]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    assert page["totalCount"] == len(ids) + 1
