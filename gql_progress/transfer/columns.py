"""The import's file kinds and their columns: names, types, which are required, and the parser of
one cell. docs/migration.md is written from these; tests/test_import.py holds the two together.

A cell arrives as text (CSV) or as a JSON value (JSON Lines); every parser takes both. An empty
cell (``""`` in CSV, ``null`` or absent in JSON) is the column's ``empty`` value: null for the
nullable columns, the default for the others. A parser raises CellError with the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from gql_progress.db.models import (
    MAX_METADATA_BYTES,
    MAX_MINUTES,
    MAX_NOTES_LENGTH,
    MAX_QUIZ_ATTEMPTS,
    MAX_SECONDS,
    LessonKind,
    UserRole,
)
from gql_progress.domain.catalog import is_slug, normalize_email

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class CellError(ValueError):
    """Why one cell cannot be read; the importer adds the file, line and column."""


Parser = Callable[[Any], Any]


def text(limit: int) -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise CellError("must be text")
        if not value.strip():
            raise CellError("must not be blank")
        if len(value) > limit:
            raise CellError(f"must be at most {limit} characters")
        if "\x00" in value:
            raise CellError("must not contain the NUL character (U+0000)")
        return value

    return parse


def long_text(limit: int) -> Parser:
    """Free text (notes, descriptions): blank is allowed."""

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise CellError("must be text")
        if len(value) > limit:
            raise CellError(f"must be at most {limit} characters")
        if "\x00" in value:
            raise CellError("must not contain the NUL character (U+0000)")
        return value

    return parse


def email(value: Any) -> str:
    if not isinstance(value, str):
        raise CellError("must be text")
    cleaned = normalize_email(value)
    if not _EMAIL.match(cleaned) or len(cleaned) > 320 or "\x00" in cleaned:
        raise CellError("must be an email address")
    return cleaned


def slug(value: Any) -> str:
    if not is_slug(value):
        raise CellError("must be lower-case words joined by hyphens (at most 200 characters)")
    return value


def integer(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        kind = type(value)
        if kind is bool or not (kind is str or kind is int or (kind is float and value.is_integer())):
            raise CellError("must be a whole number")
        try:
            result = int(value)  # a str may have spaces around it
        except ValueError:
            raise CellError("must be a whole number") from None
        if not low <= result <= high:
            raise CellError(f"must be between {low} and {high}")
        return result

    return parse


def number(low: float, high: float, *, above_low: bool = False) -> Parser:
    def parse(value: Any) -> float:
        kind = type(value)
        if kind is bool or not (kind is str or kind is int or kind is float):
            raise CellError("must be a number")
        try:
            result = float(value)
        except ValueError:
            raise CellError("must be a number") from None
        in_range = (low < result if above_low else low <= result) and result <= high
        if not (in_range and math.isfinite(result)):
            raise CellError(f"must be {'greater than' if above_low else 'between'} {low:g} and {high:g}")
        return result

    return parse


_BOOLEANS = {
    spelling: value
    for words, value in ((_TRUE, True), (_FALSE, False))
    for word in words
    for spelling in (word, word.upper(), word.capitalize())
}


def boolean(value: Any) -> bool:
    if value is True or value is False:
        return bool(value)
    found = _BOOLEANS.get(value) if isinstance(value, str) else None
    if found is None and isinstance(value, str):
        found = _BOOLEANS.get(value.strip().lower())
    if found is None:
        raise CellError("must be true or false")
    return found


def timestamp(value: Any) -> datetime:
    """ISO 8601 with a UTC offset (``Z`` or ``+02:00``): a time without one is ambiguous."""
    if not isinstance(value, str):
        raise CellError("must be an ISO 8601 timestamp with a UTC offset, e.g. 2024-05-01T09:30:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CellError(
            "must be an ISO 8601 timestamp with a UTC offset, e.g. 2024-05-01T09:30:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise CellError("needs a UTC offset (Z or ±hh:mm): a time without one is ambiguous")
    return parsed.astimezone(UTC)


def choice(values: tuple[str, ...]) -> Parser:
    allowed = frozenset(values)

    def parse(value: Any) -> str:
        cleaned = value.strip().upper() if isinstance(value, str) else value
        if cleaned not in allowed:
            raise CellError(f"must be one of {', '.join(values)}")
        return str(cleaned)

    return parse


def json_object(value: Any) -> str:
    """A JSON object, returned as its JSON text (what the staging table holds)."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise CellError("must be a JSON object") from None
    if not isinstance(value, dict):
        raise CellError("must be a JSON object")
    encoded = orjson.dumps(value).decode()
    if len(encoded) > MAX_METADATA_BYTES:
        raise CellError(f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
    if "\\u0000" in encoded:
        raise CellError("must not contain the NUL character (U+0000)")
    return encoded


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # as docs/migration.md names it
    parse: Parser
    description: str
    required: bool = False  # the file must have it and no row may leave it empty
    empty: Any = None  # the value of an empty cell
    example: str = ""


@dataclass(frozen=True, slots=True)
class Kind:
    """One file kind: its columns, and the groups of which each row names exactly one."""

    name: str
    columns: tuple[Column, ...]
    one_of: tuple[tuple[str, str], ...] = ()
    # Columns the export writes (our ids, derived fields) that an import reads past, so an
    # exported file can be imported elsewhere as it is.
    export_only: frozenset[str] = frozenset()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_USER_REF = (
    Column("user_email", "text", email, "The learner's email (any case).", example="ada@example.com"),
    Column("user_external_id", "text", text(255), "The learner's id on the platform.", example="u-1001"),
)
_COURSE_REF = (
    Column("course_slug", "text", slug, "The course's slug.", example="intro-to-sql"),
    Column("course_product_id", "text", text(255), "The course's product id.", example="prod-77"),
)

USERS = Kind(
    "users",
    (
        Column(
            "external_id",
            "text",
            text(255),
            "The platform's id for the user (unique).",
            True,
            example="u-1001",
        ),
        Column(
            "email",
            "text",
            email,
            "Email address, unique regardless of case.",
            True,
            example="ada@example.com",
        ),
        Column("name", "text", text(255), "Display name.", True, example="Ada Lovelace"),
        Column(
            "role",
            "LEARNER, INSTRUCTOR or ADMIN",
            choice(tuple(UserRole)),
            "Defaults to LEARNER.",
            empty=UserRole.LEARNER.value,
            example="LEARNER",
        ),
        Column(
            "created_at",
            "timestamp",
            timestamp,
            "When the user joined; defaults to the import's time.",
            example="2023-01-15T08:00:00Z",
        ),
    ),
    export_only=frozenset({"user_id"}),
)

COURSES = Kind(
    "courses",
    (
        Column(
            "slug", "text", slug, "Unique lower-case words joined by hyphens.", True, example="intro-to-sql"
        ),
        Column("title", "text", text(500), "Title.", True, example="Intro to SQL"),
        Column("product_id", "text", text(255), "The platform's product id (unique).", example="prod-77"),
        Column("description", "text", long_text(100_000), "Description.", empty="", example=""),
        Column(
            "expected_completion_days",
            "integer",
            integer(1, 36_500),
            "Days a learner is expected to need (1–36500).",
            example="30",
        ),
        Column(
            "requires_sequential_progress",
            "boolean",
            boolean,
            "Lessons in order; default false.",
            empty=False,
            example="false",
        ),
        Column(
            "certificate_enabled",
            "boolean",
            boolean,
            "Completing it earns a certificate; default false.",
            empty=False,
            example="true",
        ),
        Column(
            "keep_completion_on_change",
            "boolean",
            boolean,
            "Earned completions survive changed requirements; default true.",
            empty=True,
            example="true",
        ),
        Column(
            "video_completion_threshold",
            "number",
            number(0, 100, above_low=True),
            "Percent of a video that completes it (0 < x ≤ 100).",
            example="90",
        ),
    ),
    export_only=frozenset({"course_id"}),
)

LESSONS = Kind(
    "lessons",
    (
        Column(
            "external_id",
            "text",
            text(255),
            "The platform's id for the lesson (unique).",
            True,
            example="l-5001",
        ),
        *_COURSE_REF,
        Column(
            "position",
            "integer",
            integer(0, 1_000_000),
            "Order in the course, unique there.",
            True,
            example="0",
        ),
        Column("title", "text", text(500), "Title.", True, example="SELECT basics"),
        Column(
            "kind",
            "VIDEO, ARTICLE, QUIZ, ASSIGNMENT or OTHER",
            choice(tuple(LessonKind)),
            "Defaults to OTHER.",
            empty=LessonKind.OTHER.value,
            example="VIDEO",
        ),
        Column("duration_seconds", "integer", integer(0, MAX_SECONDS), "Length in seconds.", example="600"),
        Column(
            "is_required",
            "boolean",
            boolean,
            "Counts toward completing the course; default true.",
            empty=True,
            example="true",
        ),
        Column(
            "pass_score", "number", number(0, 100), "For quizzes: the passing quiz score (0–100).", example=""
        ),
    ),
    one_of=(("course_slug", "course_product_id"),),
    export_only=frozenset({"lesson_id", "course_id"}),
)

ENROLLMENTS = Kind(
    "enrollments",
    (
        *_USER_REF,
        *_COURSE_REF,
        Column(
            "enrolled_at",
            "timestamp",
            timestamp,
            "When the learner enrolled; defaults to the import's time.",
            example="2024-02-01T12:00:00Z",
        ),
    ),
    one_of=(("user_email", "user_external_id"), ("course_slug", "course_product_id")),
    export_only=frozenset({"enrollment_id", "user_id", "course_id", "status", "completed_at"}),
)

PROGRESS = Kind(
    "progress",
    (
        *_USER_REF,
        Column("lesson_external_id", "text", text(255), "The lesson's external id.", True, example="l-5001"),
        Column(
            "completed",
            "boolean",
            boolean,
            "Whether the lesson is completed; default: whether completed_at is given.",
            example="true",
        ),
        Column(
            "completed_at",
            "timestamp",
            timestamp,
            "When it was completed; only with completed "
            "true (empty: kept from an earlier import, else the import's time).",
            example="2024-03-01T10:00:00Z",
        ),
        Column(
            "progress_percentage",
            "number",
            number(0, 100),
            "0–100; 100 while completed.",
            empty=0.0,
            example="100",
        ),
        Column(
            "video_position_seconds",
            "integer",
            integer(0, MAX_SECONDS),
            "Video position.",
            empty=0,
            example="540",
        ),
        Column(
            "last_position_seconds",
            "integer",
            integer(0, MAX_SECONDS),
            "Resume position.",
            empty=0,
            example="540",
        ),
        Column("quiz_score", "number", number(0, 100), "Quiz score 0–100.", example=""),
        Column(
            "quiz_attempts", "integer", integer(0, MAX_QUIZ_ATTEMPTS), "Quiz attempts.", empty=0, example="0"
        ),
        Column("quiz_passed", "boolean", boolean, "Whether the quiz was passed.", example=""),
        Column(
            "time_spent_minutes",
            "integer",
            integer(0, MAX_MINUTES),
            "Minutes the learner spent (as the old LMS claimed them).",
            empty=0,
            example="12",
        ),
        Column("notes", "text", long_text(MAX_NOTES_LENGTH), "The learner's notes.", example=""),
        Column("is_bookmarked", "boolean", boolean, "Bookmarked.", empty=False, example="false"),
        Column("metadata", "JSON object", json_object, "Up to 16 KiB of JSON.", example='{"src":"lms"}'),
        Column(
            "last_accessed_at",
            "timestamp",
            timestamp,
            "When the learner last opened it.",
            example="2024-03-01T10:00:00Z",
        ),
    ),
    one_of=(("user_email", "user_external_id"),),
    export_only=frozenset(
        {
            "progress_id",
            "user_id",
            "course_id",
            "course_slug",
            "course_product_id",
            "lesson_id",
            # Measured by this server (issue 18): an import never claims it.
            "active_seconds",
            "created_at",
            "updated_at",
            "grant_reason",
        }
    ),
)

# In dependency order: each kind names only things the kinds before it create.
KINDS: tuple[Kind, ...] = (USERS, COURSES, LESSONS, ENROLLMENTS, PROGRESS)
BY_NAME = {kind.name: kind for kind in KINDS}
