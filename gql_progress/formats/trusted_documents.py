"""The trusted-documents manifest (GQL_PROGRESS_TRUSTED_DOCUMENTS_FILE) a client build produced."""

from __future__ import annotations

import json
from pathlib import Path

APOLLO_MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def load_manifest(path: Path) -> dict[str, str]:
    """A trusted-documents manifest as ``{id: document text}``; ValueError says what is wrong.

    Either a JSON object of id → text (GraphQL Code Generator's client preset, Relay), or Apollo's
    ``{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body"}]}``.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    if isinstance(raw, dict) and raw.get("format") == APOLLO_MANIFEST_FORMAT:
        operations = raw.get("operations")
        if raw.get("version") != 1 or not isinstance(operations, list):
            raise ValueError(f"{path}: an Apollo manifest of version 1 with a list of operations")
        pairs = [(op.get("id"), op.get("body")) for op in operations if isinstance(op, dict)]
        if len(pairs) != len(operations):
            raise ValueError(f"{path}: every operation must be an object with an id and a body")
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise ValueError(f"{path}: a JSON object of id to document, or an Apollo manifest")
    manifest: dict[str, str] = {}
    for document_id, text in pairs:
        if not isinstance(document_id, str) or not document_id or not isinstance(text, str) or not text:
            raise ValueError(f"{path}: every id and document must be a non-empty string")
        manifest[document_id] = text
    if not manifest:
        raise ValueError(f"{path} lists no document")
    return manifest
