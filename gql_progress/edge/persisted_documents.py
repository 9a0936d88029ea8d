"""Persisted documents: a request may name its document by hash instead of sending it.

Two modes, as platforms use them:

- **Automatic persisted queries** (Apollo's protocol, on by default): a client sends
  ``extensions.persistedQuery.sha256Hash`` alone; a hash this process has not seen answers
  ``PERSISTED_QUERY_NOT_FOUND`` and the client sends the document with its hash, which registers
  it. The point is smaller requests, and GET URLs short enough for a CDN to cache public reads.
  Any client may register any document, so this is not an allow-list.
- **Trusted documents** (``GQL_PROGRESS_TRUSTED_DOCUMENTS_FILE``): the manifest a build produced
  (GraphQL Code Generator's client preset ``persisted-documents.json``, Relay's persisted query
  JSON, or Apollo's persisted query manifest) is loaded at start-up and nothing else runs: a
  document sent as text must be in it, and an unknown id is refused, before anything parses it.

A persisted document is then exactly its text: the request gate, the limits, the rate limit, the
idempotency fingerprint and the resolvers see the text, as if it had been sent (request_gate.py
rewrites the request). ``documentId`` (the GraphQL-over-HTTP persisted documents proposal, e.g.
``"sha256:<hex>"``) is accepted as well as Apollo's extension.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
NOT_TRUSTED = "QUERY_NOT_IN_SAFELIST"
# Apollo's clients look for this message (and the code) to send the document again.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"

_SHA256_PREFIX = "sha256:"


def document_hash(text: str) -> str:
    """The id of a document in both protocols: the SHA-256 of its UTF-8 text, in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PersistedRefusal:
    status: int
    code: str
    message: str


class _AutomaticStore:
    """Registered documents by hash, least recently used first out, within a byte budget."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._texts: OrderedDict[str, str] = OrderedDict()

    def get(self, document_id: str) -> str | None:
        text = self._texts.get(document_id)
        if text is not None:
            self._texts.move_to_end(document_id)
        return text

    def put(self, document_id: str, text: str) -> None:
        if document_id in self._texts or len(text) > self._max_bytes:
            return
        self._texts[document_id] = text
        self._bytes += len(text)
        while self._bytes > self._max_bytes:
            _, evicted = self._texts.popitem(last=False)
            self._bytes -= len(evicted)


class PersistedDocuments:
    def __init__(
        self, *, automatic: bool, store_bytes: int, trusted: Mapping[str, str] | None = None
    ) -> None:
        self._automatic = _AutomaticStore(store_bytes) if automatic and trusted is None else None
        self._trusted: dict[str, str] | None = None
        self._trusted_hashes: frozenset[str] = frozenset()
        if trusted is not None:
            # Found by the manifest's own id, or by the text's hash (what Apollo's link sends).
            self._trusted = dict(trusted)
            for text in trusted.values():
                self._trusted.setdefault(document_hash(text), text)
            self._trusted_hashes = frozenset(document_hash(text) for text in trusted.values())

    @property
    def trusted_only(self) -> bool:
        return self._trusted is not None

    def resolve(self, query: Any, extensions: Any, document_id: Any) -> str | PersistedRefusal | None:
        """The document text the request runs (None: none given, the gate says so), or why not."""
        named = _named_id(extensions, document_id)
        if isinstance(named, PersistedRefusal):
            return named
        has_text = isinstance(query, str) and query != ""
        if self._trusted is not None:
            if has_text:
                assert isinstance(query, str)
                if document_hash(query) in self._trusted_hashes:
                    return query
                return PersistedRefusal(
                    400, NOT_TRUSTED, "This server runs only its trusted documents: send a document's id"
                )
            if named is None:
                return None
            text = self._trusted.get(named) or self._trusted.get(_bare(named))
            if text is None:
                return PersistedRefusal(400, NOT_IN_LIST, "No trusted document has this id")
            return text
        if named is None:
            return query if has_text else None
        if self._automatic is None:
            return PersistedRefusal(
                400, NOT_SUPPORTED, "Persisted queries are not supported: send the whole document as `query`"
            )
        bare = _bare(named)
        if has_text:
            assert isinstance(query, str)
            if document_hash(query) != bare:
                message = "The hash sent is not the SHA-256 of the document sent"
                return PersistedRefusal(400, HASH_MISMATCH, message)
            self._automatic.put(bare, query)
            return query
        text = self._automatic.get(bare)
        if text is None:
            # 200, as Apollo's servers answer it: clients read the code and send the document.
            return PersistedRefusal(200, NOT_FOUND, NOT_FOUND_MESSAGE)
        return text


def _named_id(extensions: Any, document_id: Any) -> str | PersistedRefusal | None:
    """The id the request names its document by, from ``documentId`` or Apollo's extension."""
    if document_id is not None:
        if not isinstance(document_id, str) or not document_id:
            return PersistedRefusal(400, "BAD_REQUEST", "`documentId` must be a non-empty string")
        return document_id
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return None
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(persisted, dict) or persisted.get("version") != 1 or not isinstance(digest, str):
        return PersistedRefusal(
            400, "BAD_REQUEST", "`extensions.persistedQuery` must be {version: 1, sha256Hash: <hex>}"
        )
    return digest.lower()


def _bare(document_id: str) -> str:
    return document_id.removeprefix(_SHA256_PREFIX)
