"""The lean answer of a compiled read (app.py's ``send_json`` behind the front's chain) against
the general path's: the same status, headers and body, on PostgreSQL; and the Vary fast path
against Starlette's ``add_vary_header``, which it stands in for."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.datastructures import MutableHeaders
from starlette.types import Message

from bench.operations import COURSE_PAGE, COURSE_TITLE
from gql_progress.edge.media_types import _varying_by_accept
from tests.read_paths import Pair, paired_apps

# Different from one request to the next, whichever path answers.
PER_REQUEST = {"x-request-id", "ratelimit-remaining", "ratelimit-reset"}


@pytest.fixture(scope="module")
async def pair(pg_template: str | None) -> AsyncIterator[Pair]:
    async with paired_apps(pg_template) as both:
        yield both


@pytest.mark.postgres_only
@pytest.mark.parametrize("who", ["learner", "admin"])
@pytest.mark.parametrize(
    ("document", "slug"),
    [(COURSE_TITLE, "intro-to-sql"), (COURSE_PAGE, "intro-to-sql"), (COURSE_TITLE, "no-such-course")],
    ids=["Q0", "Q1", "Q0_missing"],
)
async def test_a_compiled_answer_is_sent_as_the_resolver_path_sends_it(
    pair: Pair, who: str, document: str, slug: str
) -> None:
    key = pair.key(who)
    answered = pair.plans.answered
    fast = await pair.compiled.post(document, {"slug": slug}, key=key)
    assert pair.plans.answered == answered + 1  # the lean answer ran, not a fallback
    slow = await pair.resolvers.post(document, {"slug": slug}, key=key)

    assert fast.status_code == slow.status_code == 200
    assert fast.json() == slow.json()
    assert [name for name, _ in fast.headers.raw] == [name for name, _ in slow.headers.raw]
    assert fast.headers["content-length"] == str(len(fast.content))
    same = [(n, v) for n, v in fast.headers.raw if n.decode() not in PER_REQUEST | {"content-length"}]
    assert same == [(n, v) for n, v in slow.headers.raw if n.decode() not in PER_REQUEST | {"content-length"}]


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"content-type", b"application/json")],
        [(b"vary", b"Origin")],
        [(b"content-length", b"2"), (b"vary", b"Origin, Accept-Encoding")],
    ],
    ids=["none", "no_vary", "vary", "vary_among_others"],
)
async def test_vary_accept_is_added_as_starlette_adds_it(headers: list[tuple[bytes, bytes]]) -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await _varying_by_accept(send)({"type": "http.response.start", "status": 200, "headers": list(headers)})
    expected: Message = {"type": "http.response.start", "status": 200, "headers": list(headers)}
    MutableHeaders(scope=expected).add_vary_header("Accept")
    assert sent == [expected]
