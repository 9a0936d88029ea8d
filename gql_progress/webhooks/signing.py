"""Two signatures on every delivery, from the endpoint's one secret.

Ours, ``X-GQL-Progress-Signature``: HMAC-SHA256 over ``f"{timestamp}.{body}"`` keyed with the
secret's UTF-8 bytes. Signing the timestamp with the body lets a receiver refuse replays of an
old request, and signing the exact bytes sent (not a re-serialisation) means it never has to
re-encode JSON. Kept unchanged so that receivers written against it keep working.

Standard Webhooks (https://www.standardwebhooks.com), ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of f"{id}.{timestamp}.{body}">``, so receivers can
use the published verifiers (the ``standardwebhooks`` packages, Svix's libraries) in any
language. Those verifiers take the secret as ``whsec_<base64 of the key bytes>``: a secret
registered in that form is used as its decoded bytes, exactly as they decode it; any other
secret's key is its UTF-8 bytes, the same key as our header's, and its ``whsec_`` form is
``standard_secret(secret)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SIGNATURE_HEADER = "X-GQL-Progress-Signature"
TIMESTAMP_HEADER = "X-GQL-Progress-Timestamp"
EVENT_ID_HEADER = "X-GQL-Progress-Event-Id"
EVENT_TYPE_HEADER = "X-GQL-Progress-Event-Type"
ATTEMPT_HEADER = "X-GQL-Progress-Delivery-Attempt"
SCHEME = "v1"

# Standard Webhooks' names are lower case in its specification; HTTP header names are not
# case-sensitive, and its verifiers lower-case what they receive.
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"


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


def whsec_key(secret: str) -> bytes | None:
    """The key bytes of a secret in the ``whsec_<base64>`` form, or None if it is not one.

    Strict base64 (padding may be left out, as the verifiers allow): a secret that merely starts
    with the prefix is not silently decoded to something else than its author meant.
    """
    if not secret.startswith(STANDARD_SECRET_PREFIX):
        return None
    encoded = secret.removeprefix(STANDARD_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature for an endpoint's secret."""
    key = whsec_key(secret)
    return secret.encode() if key is None else key


def standard_secret(secret: str) -> str:
    """What a Standard Webhooks verifier is given for this endpoint: ``whsec_<base64 key>``."""
    return STANDARD_SECRET_PREFIX + base64.b64encode(standard_key(secret)).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The value of webhook-signature: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.

    The header may hold several space-separated signatures (the specification's rotation);
    we send one.
    """
    message = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), message, hashlib.sha256).digest()
    return f"{SCHEME},{base64.b64encode(digest).decode()}"
