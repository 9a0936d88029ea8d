"""PostGraphile's answers in gql_progress's shape, so the harness can require them equal.

Only the shape changes, never a value: field names (courseBySlug → course, lessonsByCourseId
.nodes → lessons, userByRowId.enrollmentsByUserId.nodes → me.enrollments), the progress record
(a list of at most one, because the key is unique on user and lesson → the record or null, its
``completed`` flag → ``status``), the lesson's global id (PostGraphile's base64 of
``["Lesson", pk]`` → ours, base64 of ``Lesson:pk``) and ``completedAt`` (PostGraphile's
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``, always six fraction digits → Python's ``isoformat()`` of
the same UTC instant, as gql_progress sends it). A body with errors, or without data, is returned as it is,
so the comparison reports it.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from gql_progress.domain.ids import encode_id


def as_ours(operation: str, body: Any) -> Any:
    if not isinstance(body, dict) or body.get("errors") or not isinstance(body.get("data"), dict):
        return body
    data = body["data"]
    if operation == "Q0":
        course = data["courseBySlug"]
        return {"data": {"course": None if course is None else {"title": course["title"]}}}
    if operation in ("Q1", "Q2"):
        return {"data": {"course": _course_page(data["courseBySlug"])}}
    if operation == "Q3":
        user = data["userByRowId"]
        if user is None:
            return {"data": {"me": None}}
        enrollments = [
            {"course": {"title": node["courseByCourseId"]["title"]}, "summary": node["summary"]}
            for node in user["enrollmentsByUserId"]["nodes"]
        ]
        return {"data": {"me": {"enrollments": enrollments}}}
    raise ValueError(f"PostGraphile does not answer {operation}")


def _course_page(course: Any) -> Any:
    if course is None:
        return None
    return {
        "title": course["title"],
        "summary": course["summary"],
        "lessons": [_lesson(node) for node in course["lessonsByCourseId"]["nodes"]],
    }


def _lesson(node: dict[str, Any]) -> dict[str, Any]:
    records = node["lessonProgressesByLessonId"]["nodes"]
    return {
        "id": _our_id(node["id"]),
        "title": node["title"],
        "kind": node["kind"],
        "durationSeconds": node["durationSeconds"],
        "isRequired": node["isRequired"],
        # More than one record would be a broken unique key: leave the list for the diff to show.
        "progress": records if len(records) > 1 else (_progress(records[0]) if records else None),
    }


def _progress(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "COMPLETED" if record["completed"] else "IN_PROGRESS",
        "progressPercentage": record["progressPercentage"],
        "videoPositionSeconds": record["videoPositionSeconds"],
        "lastPositionSeconds": record["lastPositionSeconds"],
        "completedAt": _iso_utc(record["completedAt"]),
    }


def _our_id(node_id: str) -> str:
    """PostGraphile's node id of a lesson as our id; anything else unchanged (and so unequal)."""
    try:
        decoded = json.loads(base64.b64decode(node_id, validate=True))
    except (binascii.Error, ValueError):
        return node_id
    if (
        isinstance(decoded, list)
        and len(decoded) == 2
        and decoded[0] == "Lesson"
        and isinstance(decoded[1], int)
    ):
        return encode_id("Lesson", decoded[1])
    return node_id


def _iso_utc(value: str | None) -> str | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).isoformat()
