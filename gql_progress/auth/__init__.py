"""Authentication: API keys (keys.py), bearer JWTs (jwt.py) and the Authenticator that turns
either into a Viewer with its scopes (authenticator.py)."""

from gql_progress.auth.authenticator import Authenticated, Authenticator
from gql_progress.auth.keys import KEY_PREFIX, IssuedKey, hash_key, issue_api_key, revoke_api_key

__all__ = [
    "KEY_PREFIX",
    "Authenticated",
    "Authenticator",
    "IssuedKey",
    "hash_key",
    "issue_api_key",
    "revoke_api_key",
]
