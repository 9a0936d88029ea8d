"""HTTP and WebSocket share one request policy (edge/policy.py): the same document refused with
the same code and message over both, one rate-limit budget spent by both, and access records with
one set of fields and the refusal's code, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from gql_progress.settings import LogFormat
from tests.apps import GENEROUS_LIMITS, api_with
from tests.test_observability import server_logging
from tests.test_subscription_security import (
    DEEP,
    PROGRESS,
    access_records,
    connected,
    enrolled,
    error_codes,
    subscription_records,
)
from tests.ws import next_message, subscribe, subscribed, until

ME = "query Me { me { id } }"


def _by_code(records: list[dict[str, Any]], code: str) -> dict[str, dict[str, Any]]:
    """The record refused with ``code`` per transport (WS, or POST for HTTP)."""
    return {record["method"]: record for record in records if record["code"] == code}


async def test_both_transports_refuse_alike_spend_one_budget_and_log_the_same_fields(
    database_url: str,
) -> None:
    settings = {**GENEROUS_LIMITS, "max_query_depth": 4, "rate_limit_learner": "2/minute"}
    async with api_with(database_url, **settings) as api:
        learner, course = await enrolled(api)
        with server_logging("INFO", LogFormat.JSON) as logs:
            async with connected(api, learner.key) as ws:
                # 1. the document: refused before anything is spent, over either transport.
                await subscribe(ws, "deep", DEEP, {"c": course.id})
                refused_deep = await next_message(ws, "deep")
                over_http = await api.gql(DEEP, {"c": course.id}, key=learner.key)
                # 4. the budget: a subscribe and a query spend it; the next of either is refused.
                await subscribe(ws, "1", PROGRESS, {"c": course.id})
                await subscribed(api, 1)
                assert (await api.post(ME, key=learner.key)).status_code == 200
                await subscribe(ws, "2", PROGRESS, {"c": course.id})
                refused_rate = await next_message(ws, "2")
                limited = await api.post(ME, key=learner.key)
                await until(lambda: len(subscription_records(logs.getvalue())) == 2, "both refusals logged")
            await until(lambda: len(subscription_records(logs.getvalue())) == 3, "the subscription logged")
            written = logs.getvalue()

    assert error_codes(refused_deep) == ["QUERY_TOO_DEEP"]
    assert refused_deep["payload"] == over_http["errors"]
    assert error_codes(refused_rate) == ["RATE_LIMITED"]
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"

    records = access_records(written)
    deep = _by_code(records, "QUERY_TOO_DEEP")
    rate = _by_code(records, "RATE_LIMITED")
    assert deep.keys() == rate.keys() == {"WS", "POST"}
    assert {record["outcome"] for record in deep.values()} == {"rejected"}
    assert {record["outcome"] for record in rate.values()} == {"rate_limited"}
    assert rate["WS"]["caller"] == rate["POST"]["caller"] == deep["WS"]["caller"]
    # One set of fields, whichever transport wrote the record.
    fields = {frozenset(record) for record in records if record["method"] in {"WS", "POST"}}
    assert len(fields) == 1, fields
