"""The floor and PostGraphile must answer what gql_progress answers: compare for sample pairs.

Floor, Q1: both bodies parsed and compared whole. M1: the same heartbeat sent to both
(gql_progress first, then the floor, so both write the same record); equal except
lastAccessedAt, which is the time of each write.

PostGraphile, Q0–Q3: its body, mapped to our shape (bench/peer_shape.py: names and
formats, never values), compared whole with ours. gql_progress is asked with the learner's key,
PostGraphile with the learner's id as a variable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import httpx

from bench import bodies, peer_shape
from bench.dataset import Sample
from bench.operations import FLOOR_PATHS, OPERATIONS, PEER_OPERATIONS
from bench.plan import FLOOR, PEER


@dataclass(frozen=True)
class Comparison:
    system: str  # plan.FLOOR or plan.PEER, compared with gql_progress
    operation: str
    samples: int
    equal: bool
    detail: str  # the first difference, when not equal


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two parsed JSON values differ (numbers compare by value: 50 == 50.0)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a.keys() ^ b.keys())} in only one of them"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    numbers = (int, float)
    same_kind = type(a) is type(b) or (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )
    if not same_kind or a != b:
        return f"{path}: {a!r} vs {b!r}"
    return None


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k != "lastAccessedAt"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


async def compare(gql_url: str, floor_url: str, samples: list[Sample]) -> list[Comparison]:
    rng = random.Random(7)
    results = []
    async with httpx.AsyncClient(timeout=30) as client:
        for name in ("Q1", "M1"):
            kind, document = OPERATIONS[name].requests[0]
            difference = None
            for sample in samples:
                body = bodies.body(kind, document, sample, rng)
                headers = bodies.headers(sample)
                ours = await client.post(f"{gql_url}/graphql", json=body, headers=headers)
                floor = await client.post(f"{floor_url}{FLOOR_PATHS[name]}", json=body, headers=headers)
                a, b = ours.json(), floor.json()
                if name == "M1":
                    a, b = _without_times(a), _without_times(b)
                if ours.status_code != floor.status_code:
                    difference = f"HTTP {ours.status_code} vs {floor.status_code}"
                else:
                    difference = first_difference(a, b)
                if difference:
                    difference = f"{sample.slug} as user {sample.user_id}: {difference}"
                    break
            results.append(Comparison(FLOOR, name, len(samples), difference is None, difference or ""))
    return results


async def compare_peer(
    gql_url: str, peer_url: str, samples: list[Sample], operations: list[str]
) -> list[Comparison]:
    rng = random.Random(7)
    results = []
    async with httpx.AsyncClient(timeout=30) as client:
        for name in operations:
            ours_kind, ours_document = OPERATIONS[name].requests[0]
            peer_kind, peer_document = PEER_OPERATIONS[name].requests[0]
            difference = None
            for sample in samples:
                headers = bodies.headers(sample)
                ours = await client.post(
                    f"{gql_url}/graphql",
                    json=bodies.body(ours_kind, ours_document, sample, rng),
                    headers=headers,
                )
                peer = await client.post(
                    f"{peer_url}/graphql",
                    json=bodies.body(peer_kind, peer_document, sample, rng),
                    headers=headers,
                )
                if ours.status_code != peer.status_code:
                    difference = f"HTTP {ours.status_code} vs {peer.status_code}: {peer.text[:300]}"
                else:
                    difference = first_difference(ours.json(), peer_shape.as_ours(name, peer.json()))
                if difference:
                    difference = f"{sample.slug} as user {sample.user_id}: {difference}"
                    break
            results.append(Comparison(PEER, name, len(samples), difference is None, difference or ""))
    return results
