"""Request bodies as the wrk script builds them, for the requests the harness sends itself."""

from __future__ import annotations

import random
from typing import Any

from bench.dataset import Sample
from bench.operations import RequestKind


def variables(kind: RequestKind, sample: Sample, rng: random.Random) -> dict[str, Any]:
    if kind is RequestKind.SLUG:
        return {"slug": sample.slug}
    if kind is RequestKind.NONE:
        return {}
    if kind is RequestKind.SLUG_USER:
        return {"slug": sample.slug, "userId": sample.user_id}
    if kind is RequestKind.USER:
        return {"userId": sample.user_id}
    if kind is RequestKind.HEARTBEAT:
        position = rng.randint(0, 3600)
        return {
            "lessonId": rng.choice(sample.lesson_ids),
            "video": position,
            "last": position,
            "minutes": rng.randint(1, 240),
        }
    return {"ids": sample.lesson_ids, "completed": rng.random() < 0.5}


def body(kind: RequestKind, document: str, sample: Sample, rng: random.Random) -> dict[str, Any]:
    return {"query": document, "variables": variables(kind, sample, rng)}


def headers(sample: Sample) -> dict[str, str]:
    return {"Authorization": f"Bearer {sample.key}", "Content-Type": "application/json"}
