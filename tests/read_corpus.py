"""The read corpus: every query document the test suite sends through the in-process client,
kept in tests/read_corpus.jsonl for tests/test_read_corpus.py to replay on both read paths.

Recording is always on and costs a dictionary lookup per request: ``tests/apps.client_for`` (the
client every API test goes through) hands each request to ``record``, which keeps the query
operations (mutations, subscriptions, unparsable and ambiguous documents are left out) with their
variables. At the end of the session (tests/conftest.py) the documents seen are compared with the
corpus file: one missing fails the run, and ``pytest --update-read-corpus`` adds it. So the
corpus cannot silently fall behind the tests.

A document is identified by its text and operation name. Its variables are kept as examples (up
to ``VARIABLE_SETS`` distinct ones, chosen when it is added) but are not part of its identity:
values such as seeded emails come from a process-wide counter and change with how pytest-xdist
shares the tests out, so comparing them would make the check flap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from graphql import GraphQLError, OperationType, parse
from hypothesis import currently_in_test_context

from gql_progress.api.document_shape import selected_operation

CORPUS = Path(__file__).with_name("read_corpus.jsonl")
VARIABLE_SETS = 3

Key = tuple[str, str | None]  # (document, operation name)

# Off while generated documents are sent: they differ from run to run, and the corpus holds the
# documents the tests state, which it can keep current. A context variable, so it follows the
# requests of a test into the tasks and threads it starts (tests/test_fuzz.py drives hypothesis
# from a worker thread, the app answering on the event loop).
_recording: ContextVar[bool] = ContextVar("read_corpus_recording", default=True)


@contextmanager
def not_recorded() -> Iterator[None]:
    token = _recording.set(False)
    try:
        yield
    finally:
        _recording.reset(token)


@dataclass
class Entry:
    document: str
    operation_name: str | None
    variables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.document, self.operation_name)

    def line(self) -> str:
        return json.dumps(
            {"document": self.document, "operationName": self.operation_name, "variables": self.variables},
            ensure_ascii=False,
            sort_keys=True,
        )


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@lru_cache(maxsize=4096)
def is_query(document: str, operation_name: str | None) -> bool:
    """Whether the operation this request would run is a query (parsed the way the gate does)."""
    try:
        operation = selected_operation(parse(document), operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation is OperationType.QUERY


class Recorder:
    """The query documents this process sent, each with the distinct variables it was sent with."""

    def __init__(self) -> None:
        self.seen: dict[Key, dict[str, dict[str, Any]]] = {}

    def add(self, document: Any, operation_name: Any, variables: Any) -> None:
        if not _recording.get() or currently_in_test_context():
            return  # generated documents (see _recording)
        if not isinstance(document, str) or not (operation_name is None or isinstance(operation_name, str)):
            return
        if not is_query(document, operation_name):
            return
        values = variables if isinstance(variables, dict) else {}
        self.seen.setdefault((document, operation_name), {}).setdefault(canonical(values), values)

    async def on_request(self, request: httpx.Request) -> None:
        """An httpx request hook: the GraphQL-over-HTTP parameters of a POST or GET to /graphql."""
        if request.url.path != "/graphql":
            return
        if request.method == "GET":
            params = request.url.params
            try:
                variables = json.loads(params.get("variables") or "{}")
            except ValueError:
                return
            self.add(params.get("query"), params.get("operationName"), variables)
        elif request.method == "POST" and "json" in request.headers.get("content-type", ""):
            try:
                body = json.loads(request.content)
            except (ValueError, httpx.RequestNotRead):
                return
            if isinstance(body, dict):
                self.add(body.get("query"), body.get("operationName"), body.get("variables"))

    def dump(self) -> str:
        """What this process saw, for the xdist controller (workeroutput carries strings)."""
        return json.dumps([[doc, name, list(values.values())] for (doc, name), values in self.seen.items()])

    def merge(self, dumped: str) -> None:
        for document, operation_name, variable_sets in json.loads(dumped):
            for variables in variable_sets:
                self.add(document, operation_name, variables)


RECORDER = Recorder()


def load(path: Path = CORPUS) -> list[Entry]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            entries.append(Entry(raw["document"], raw["operationName"], raw["variables"]))
    return entries


def missing(recorder: Recorder, entries: list[Entry]) -> list[Key]:
    """Documents the tests sent that the corpus lacks, in a stable order."""
    known = {entry.key for entry in entries}
    return sorted((key for key in recorder.seen if key not in known), key=lambda k: (k[0], k[1] or ""))


def updated(recorder: Recorder, entries: list[Entry]) -> list[Entry]:
    """The corpus with the missing documents added (existing entries kept as they are, so the
    file changes only where the tests did), sorted by document and operation name."""
    merged = {entry.key: entry for entry in entries}
    for key in missing(recorder, entries):
        # The smallest variable sets by their JSON: a choice that does not depend on test order.
        chosen = sorted(recorder.seen[key].values(), key=canonical)[:VARIABLE_SETS]
        merged[key] = Entry(key[0], key[1], chosen)
    return [merged[key] for key in sorted(merged, key=lambda k: (k[0], k[1] or ""))]


def write(entries: list[Entry], path: Path = CORPUS) -> None:
    path.write_text("".join(entry.line() + "\n" for entry in entries), encoding="utf-8")
