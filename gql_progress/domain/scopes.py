"""What a credential may do: scopes, and the scopes each role can hold.

A key (or a token) carries scopes; its user's role bounds them. The effective scopes are the
intersection, so demoting a user takes effect on their existing keys at once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from gql_progress.db.models import UserRole


class Scope(enum.StrEnum):
    PROGRESS_READ = "progress:read"
    PROGRESS_WRITE = "progress:write"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)

# What each role may hold; a key issued without a scope list gets all of its role's scopes.
ROLE_SCOPES: dict[UserRole, frozenset[Scope]] = {
    UserRole.LEARNER: frozenset({Scope.PROGRESS_READ, Scope.PROGRESS_WRITE}),
    UserRole.INSTRUCTOR: frozenset({Scope.PROGRESS_READ, Scope.PROGRESS_WRITE}),
    UserRole.ADMIN: ALL_SCOPES,
}


# What each operation type needs: a query or a subscription reads, a mutation writes. Keyed by the
# type's name ("query", …), which graphql-core's and Strawberry's OperationType share as value.
OPERATION_SCOPES: dict[str, Scope] = {
    "query": Scope.PROGRESS_READ,
    "mutation": Scope.PROGRESS_WRITE,
    "subscription": Scope.PROGRESS_READ,
}


def scope_needed(operation_type: str) -> Scope:
    """The scope an operation of this type needs (``"query"``, ``"mutation"``, ``"subscription"``):
    enforced by the edge's request policy and, on the resolver path, by api/scope_check.py."""
    return OPERATION_SCOPES[operation_type]


def format_scopes(scopes: Iterable[Scope]) -> str:
    """The stored form: space-separated (as OAuth's `scope` claim), in the enum's order."""
    given = set(scopes)
    return " ".join(scope.value for scope in Scope if scope in given)


def parse_scopes(value: object) -> frozenset[Scope]:
    """Scopes from the stored form or a token's `scope`/`scp` claim (a space-separated string or
    a list of names); unknown names, and anything else, count as no scope."""
    if isinstance(value, str):
        names = value.split()
    elif isinstance(value, list):
        names = [v for v in value if isinstance(v, str)]
    else:
        return frozenset()
    known = {scope.value for scope in Scope}
    return frozenset(Scope(name) for name in names if name in known)
