"""A generated platform to import (issue 18): users, courses, lessons, enrollments and progress
files as another LMS would hand them over, written in the export's own formatting (so that an
import followed by an export gives back the same cells; tests/test_transfer_round_trip.py).

Deterministic for a seed. Every learner is enrolled in ``courses_per_user`` courses and has a
record on each of their lessons: a third of the enrollments have every lesson completed, the
others about half (dated, with quiz data on quizzes), the rest in progress.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2024, 1, 1, tzinfo=UTC)
PROGRESS_COLUMNS = (
    "user_external_id",
    "lesson_external_id",
    "completed",
    "completed_at",
    "progress_percentage",
    "video_position_seconds",
    "last_position_seconds",
    "quiz_score",
    "quiz_attempts",
    "quiz_passed",
    "time_spent_minutes",
    "notes",
    "is_bookmarked",
    "metadata",
    "last_accessed_at",
)


@dataclass(frozen=True)
class Shape:
    users: int
    courses: int
    lessons_per_course: int
    courses_per_user: int

    @property
    def progress_rows(self) -> int:
        return self.users * self.courses_per_user * self.lessons_per_course


def stamp(moment: datetime) -> str:
    """A timestamp as the export writes it: ISO 8601 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cell(value: Any) -> str:
    """A CSV cell as the export writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)


def _write(path: Path, header: tuple[str, ...], rows: Any, fmt: str) -> None:
    if fmt == "csv":
        with path.with_suffix(".csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows([cell(v) for v in row] for row in rows)
        return
    with path.with_suffix(".jsonl").open("wb") as handle:
        for row in rows:
            record = {
                name: (stamp(v) if isinstance(v, datetime) else v)
                for name, v in zip(header, row, strict=True)
                if v is not None
            }
            handle.write(orjson.dumps(record) + b"\n")


def write_dataset(directory: Path, shape: Shape, *, fmt: str = "csv", seed: int = 18) -> None:
    """users, courses, lessons, enrollments and progress files (``fmt``: csv or jsonl)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / "users",
        ("external_id", "email", "name", "role", "created_at"),
        (
            (f"u-{n}", f"learner{n}@example.com", f"Learner {n}", "LEARNER", START - timedelta(days=n % 90))
            for n in range(shape.users)
        ),
        fmt,
    )
    _write(
        directory / "courses",
        ("slug", "title", "product_id", "certificate_enabled"),
        ((f"course-{c}", f"Course {c}", f"prod-{c}", c % 2 == 0) for c in range(shape.courses)),
        fmt,
    )
    kinds = ("VIDEO", "ARTICLE", "QUIZ")
    _write(
        directory / "lessons",
        ("external_id", "course_slug", "position", "title", "kind", "duration_seconds", "pass_score"),
        (
            (
                f"l-{c}-{p}",
                f"course-{c}",
                p,
                f"Lesson {p} of {c}",
                kinds[p % 3],
                600,
                70.0 if kinds[p % 3] == "QUIZ" else None,
            )
            for c in range(shape.courses)
            for p in range(shape.lessons_per_course)
        ),
        fmt,
    )

    def courses_of(user: int) -> list[int]:
        return [(user + k) % shape.courses for k in range(shape.courses_per_user)]

    _write(
        directory / "enrollments",
        ("user_external_id", "course_slug", "enrolled_at"),
        (
            (f"u-{u}", f"course-{c}", START + timedelta(days=c, minutes=u % 1440))
            for u in range(shape.users)
            for c in courses_of(u)
        ),
        fmt,
    )

    def progress() -> Any:
        for u in range(shape.users):
            for c in courses_of(u):
                # A third of the enrollments are finished; elsewhere about half the lessons are.
                finished = (u + c) % 3 == 0
                for p in range(shape.lessons_per_course):
                    done = finished or rng.random() < 0.5
                    quiz = p % 3 == 2
                    at = START + timedelta(days=30 + c + p, seconds=rng.randrange(86_400))
                    score = float(rng.randrange(40, 101)) if quiz else None
                    yield (
                        f"u-{u}",
                        f"l-{c}-{p}",
                        done,
                        at if done else None,
                        100.0 if done else float(rng.randrange(0, 100)),
                        rng.randrange(0, 600),
                        rng.randrange(0, 600),
                        score,
                        rng.randrange(1, 4) if quiz else 0,
                        (score >= 70.0) if score is not None else None,
                        rng.randrange(0, 90),
                        'tricky, "re-read"\nlater' if rng.random() < 0.01 else None,
                        rng.random() < 0.05,
                        {"source": "old-lms"} if rng.random() < 0.1 else None,
                        at,
                    )

    _write(directory / "progress", PROGRESS_COLUMNS, progress(), fmt)
