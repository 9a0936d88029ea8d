"""The signature header: HMAC-SHA256 over ``f"{timestamp}.{body}"`` with the endpoint's secret.

Signing the timestamp with the body lets a receiver refuse replays of an old request, and
signing the exact bytes sent (not a re-serialisation) means it never has to re-encode JSON.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-GQL-Progress-Signature"
TIMESTAMP_HEADER = "X-GQL-Progress-Timestamp"
EVENT_ID_HEADER = "X-GQL-Progress-Event-Id"
EVENT_TYPE_HEADER = "X-GQL-Progress-Event-Type"
ATTEMPT_HEADER = "X-GQL-Progress-Delivery-Attempt"
SCHEME = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of X-GQL-Progress-Signature: ``t=<unix seconds>,v1=<hex>``.

    The scheme name leaves room for a later algorithm (or a second secret during rotation)
    next to ``v1`` without breaking receivers that look only for ``v1``.
    """
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"
