"""Persisted documents (gql_progress/edge/persisted_documents.py): Apollo's automatic persisted
queries, GET by hash for public reads, and the trusted-documents mode, through the real app."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gql_progress.settings import SettingsError, load_settings
from tests.apps import GENEROUS_LIMITS, api_with
from tests.support import Api

ME = "query Me { me { id } }"
VERIFY = 'query Verify { verifyCertificate(code: "no-such-code") { courseTitle } }'
DEEP = "{ me { enrollments { course { lessons { course { lessons { course { title } } } } } } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def by_hash(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


async def post(api: Api, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await api.client.post("/graphql", json=body, headers=headers)


async def get(api: Api, params: dict[str, str], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await api.client.get("/graphql", params=params, headers=headers)


async def test_an_unknown_hash_is_not_found_then_the_document_with_its_hash_registers_it(api: Api) -> None:
    learner = await api.user()

    unknown = await post(api, {"extensions": by_hash(ME)}, learner.key)
    registered = await post(api, {"query": ME, "extensions": by_hash(ME)}, learner.key)
    known = await post(api, {"extensions": by_hash(ME)}, learner.key)

    assert unknown.status_code == 200  # as Apollo's servers answer: its clients then resend
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert registered.json() == known.json() == {"data": {"me": {"id": learner.id}}}


async def test_a_persisted_document_runs_by_get_and_by_document_id(api: Api) -> None:
    learner = await api.user()
    await post(api, {"query": ME, "extensions": by_hash(ME)}, learner.key)

    fetched = await get(api, {"extensions": json.dumps(by_hash(ME))}, learner.key)
    named = await post(api, {"documentId": f"sha256:{sha(ME)}"}, learner.key)

    assert fetched.json() == named.json() == {"data": {"me": {"id": learner.id}}}


async def test_a_hash_that_is_not_the_documents_is_refused_and_registers_nothing(api: Api) -> None:
    learner = await api.user()

    mismatch = await post(api, {"query": ME, "extensions": by_hash(VERIFY)}, learner.key)
    after = await post(api, {"extensions": by_hash(VERIFY)}, learner.key)

    assert mismatch.status_code == 400
    assert codes(mismatch) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert codes(after) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_public_read_runs_by_hash_over_get_without_a_key(api: Api) -> None:
    learner = await api.user()
    await post(api, {"query": VERIFY, "extensions": by_hash(VERIFY)}, learner.key)

    fetched = await get(api, {"extensions": json.dumps(by_hash(VERIFY))})

    assert fetched.status_code == 200
    assert fetched.json() == {"data": {"verifyCertificate": None}}
    # The same for everyone: a CDN may keep it. An answer for a key's holder may not.
    assert fetched.headers["cache-control"] == "public, max-age=60"
    with_key = await get(api, {"extensions": json.dumps(by_hash(VERIFY))}, learner.key)
    posted = await post(api, {"extensions": by_hash(VERIFY)})
    assert "cache-control" not in with_key.headers
    assert "cache-control" not in posted.headers


async def test_limits_apply_to_a_persisted_document_as_to_its_text(pg_database_url: str) -> None:
    async with api_with(pg_database_url, **GENEROUS_LIMITS, max_query_depth=4) as api:
        learner = await api.user()

        as_text = await post(api, {"query": DEEP}, learner.key)
        registering = await post(api, {"query": DEEP, "extensions": by_hash(DEEP)}, learner.key)
        by_id = await post(api, {"extensions": by_hash(DEEP)}, learner.key)

    assert codes(as_text) == codes(registering) == codes(by_id) == ["QUERY_TOO_DEEP"]


async def test_a_mutation_by_hash_is_still_refused_over_get(api: Api) -> None:
    learner = await api.user()
    mutation = 'mutation { revokeApiKey(id: "QXBpS2V5OjE=") { __typename } }'
    await post(api, {"query": mutation, "extensions": by_hash(mutation)}, learner.key)

    fetched = await get(api, {"extensions": json.dumps(by_hash(mutation))}, learner.key)

    assert fetched.status_code == 405
    assert codes(fetched) == ["METHOD_NOT_ALLOWED"]


async def test_turned_off_a_hash_is_refused_as_not_supported(pg_database_url: str) -> None:
    async with api_with(pg_database_url, **GENEROUS_LIMITS, persisted_queries_enabled=False) as api:
        learner = await api.user()
        response = await post(api, {"query": ME, "extensions": by_hash(ME)}, learner.key)

    assert response.status_code == 400
    assert codes(response) == ["PERSISTED_QUERY_NOT_SUPPORTED"]


# --- trusted documents -----------------------------------------------------------------------


@pytest.fixture(params=["client-preset", "apollo"])
def manifest(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The same two documents in GraphQL Code Generator's and in Apollo's manifest format."""
    path = tmp_path / "persisted-documents.json"
    if request.param == "client-preset":
        path.write_text(json.dumps({sha(ME): ME, "verify-1": VERIFY}))
    else:
        operations = [
            {"id": sha(ME), "name": "Me", "type": "query", "body": ME},
            {"id": "verify-1", "name": "Verify", "type": "query", "body": VERIFY},
        ]
        path.write_text(
            json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations})
        )
    return path


@pytest.fixture
async def trusted(pg_database_url: str, manifest: Path) -> AsyncIterator[Api]:
    async with api_with(pg_database_url, **GENEROUS_LIMITS, trusted_documents_file=manifest) as api:
        yield api


async def test_trusted_documents_run_by_id_by_hash_and_as_text(trusted: Api) -> None:
    learner = await trusted.user()
    me = {"data": {"me": {"id": learner.id}}}

    assert (await post(trusted, {"documentId": f"sha256:{sha(ME)}"}, learner.key)).json() == me
    assert (await post(trusted, {"extensions": by_hash(ME)}, learner.key)).json() == me
    assert (await post(trusted, {"query": ME}, learner.key)).json() == me
    public = await get(trusted, {"documentId": "verify-1"})
    assert public.json() == {"data": {"verifyCertificate": None}}


async def test_anything_else_is_refused_before_it_is_parsed(trusted: Api) -> None:
    learner = await trusted.user()

    other = await post(trusted, {"query": "{ me { email } }"}, learner.key)
    broken = await post(trusted, {"query": "{ me { "}, learner.key)  # no syntax error: not parsed
    unknown = await post(trusted, {"documentId": "sha256:" + "0" * 64}, learner.key)
    registering = await post(
        trusted, {"query": "{ me { email } }", "extensions": by_hash("{ me { email } }")}, learner.key
    )

    assert other.status_code == broken.status_code == registering.status_code == 400
    assert codes(other) == codes(broken) == codes(registering) == ["QUERY_NOT_IN_SAFELIST"]
    assert unknown.status_code == 400
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_IN_LIST"]


def test_a_bad_manifest_stops_the_server_at_start_up(tmp_path: Path) -> None:
    cases = {
        "missing.json": None,
        "not-json.json": "{",
        "a-list.json": "[]",
        "empty.json": "{}",
        "not-text.json": json.dumps({"a": 1}),
        "bad-apollo.json": json.dumps({"format": "apollo-persisted-query-manifest", "version": 2}),
    }
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(SettingsError, match="TRUSTED_DOCUMENTS_FILE"):
            load_settings(trusted_documents_file=path)
