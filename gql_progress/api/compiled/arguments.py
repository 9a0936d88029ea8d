"""Arguments of compiled fields: what each bound parameter is, and how a request's value becomes it.

A plan is made once per document; the values come with each request. Each is converted here
exactly as the resolver would read it (the same functions: ``normalize_email``,
``try_decode_id``, ``decode_cursor``), and any value the resolver would answer with an error or
a special case raises ``NotCompiled``: that request takes the resolver path, which reports it
exactly as it always has. So the compiled path only ever answers the ordinary case.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from strawberry.schema.types.base_scalars import DateTimeDefinition

from gql_progress.api.pagination import decode_cursor
from gql_progress.api.types.analytics import MAX_HARDEST_LIMIT
from gql_progress.domain.bundle_progress import MAX_BATCH
from gql_progress.domain.catalog import normalize_email
from gql_progress.domain.errors import InvalidInput
from gql_progress.domain.ids import MAX_BIGINT_PK, try_decode_id
from gql_progress.domain.text import contains_nul


class NotCompiled(Exception):
    """The document (or this request's variables) takes the resolver path."""


@dataclass(frozen=True, slots=True)
class Paging:
    """The settings a bound value depends on."""

    default_page_size: int
    max_page_size: int
    # GQL_PROGRESS_ANALYTICS_MIN_SAMPLE: the least minSampleSize of hardestLessons.
    analytics_min_sample: int = 10


class Kind(enum.Enum):
    """What a bound parameter is (its SQL type), and how the request's value is checked."""

    TEXT = "text"  # an identifier (slug, external id) without U+0000
    EMAIL = "email"  # an email, normalised as every lookup by email is
    USER_PK = "user_pk"  # a User global id, decoded
    OPTIONAL_USER_PK = "optional_user_pk"  # the same, or null
    FIRST = "first"  # a page size: null means the default, else 0 ..= the maximum
    LAST = "last"  # a backward page's size, 0 ..= the maximum (null pages forward: resolvers)
    AFTER = "after"  # a cursor from this API, or null
    BEFORE = "before"  # the same, for the other end of the page
    # A one-of reference input ({id} | {email} | {externalId} of a user, {id} | {slug} |
    # {productId} of a course): one parameter per identifier, null but the one given.
    USER_REF_PK = "user_ref_pk"
    USER_REF_EMAIL = "user_ref_email"
    USER_REF_EXTERNAL_ID = "user_ref_external_id"
    COURSE_REF_PK = "course_ref_pk"
    COURSE_REF_SLUG = "course_ref_slug"
    COURSE_REF_PRODUCT_ID = "course_ref_product_id"
    BUNDLE_PK = "bundle_pk"  # a Bundle global id, decoded
    # A BundleRefInput ({id} | {productId} | {slug}): one parameter per identifier, as above.
    BUNDLE_REF_PK = "bundle_ref_pk"
    BUNDLE_REF_PRODUCT_ID = "bundle_ref_product_id"
    BUNDLE_REF_SLUG = "bundle_ref_slug"
    # An optional UserRefInput: the same, all null when the input is (the caller, then).
    OPTIONAL_USER_REF_PK = "optional_user_ref_pk"
    OPTIONAL_USER_REF_EMAIL = "optional_user_ref_email"
    OPTIONAL_USER_REF_EXTERNAL_ID = "optional_user_ref_external_id"
    # bundleProgressBatch's requests ([{bundle, user}], up to MAX_BATCH): per identifier of the
    # bundle and of the user, one array with an entry per request, null but the one it gives.
    REQUESTS_BUNDLE_PK = "requests_bundle_pk"
    REQUESTS_BUNDLE_PRODUCT_ID = "requests_bundle_product_id"
    REQUESTS_BUNDLE_SLUG = "requests_bundle_slug"
    REQUESTS_USER_PK = "requests_user_pk"
    REQUESTS_USER_EMAIL = "requests_user_email"
    REQUESTS_USER_EXTERNAL_ID = "requests_user_external_id"
    ENUM = "enum"  # an enum value, as its name (null stays null)
    ENUM_LIST = "enum_list"  # a list of enum values, as their names (null stays null)
    OPTIONAL_COURSE_PK = "optional_course_pk"  # a Course global id, decoded; null stays null
    INSTANT = "instant"  # a DateTime with a UTC offset (null stays null)
    INSTANT_TEXT = "instant_text"  # the same as the GraphQL layer prints it back (isoformat)
    HARDEST_LIMIT = "hardest_limit"  # hardestLessons' limit, 1 ..= MAX_HARDEST_LIMIT
    MIN_SAMPLE = "min_sample"  # hardestLessons' minSampleSize (≥ 1, null: none) raised to the setting
    ENDPOINT_PK = "endpoint_pk"  # a WebhookEndpoint global id, decoded; null stays null
    LESSON_IDS = "lesson_ids"  # a list of lesson ids as sent (completionStatus echoes them)
    LESSON_PKS = "lesson_pks"  # the same list decoded: a pk, or null where it names no lesson

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES[self]


_SQL_TYPES = {
    Kind.TEXT: "text",
    Kind.EMAIL: "text",
    Kind.USER_PK: "bigint",
    Kind.OPTIONAL_USER_PK: "bigint",
    Kind.FIRST: "int",
    Kind.LAST: "int",
    Kind.AFTER: "bigint",
    Kind.BEFORE: "bigint",
    Kind.USER_REF_PK: "bigint",
    Kind.USER_REF_EMAIL: "text",
    Kind.USER_REF_EXTERNAL_ID: "text",
    Kind.COURSE_REF_PK: "bigint",
    Kind.COURSE_REF_SLUG: "text",
    Kind.COURSE_REF_PRODUCT_ID: "text",
    Kind.BUNDLE_PK: "bigint",
    Kind.BUNDLE_REF_PK: "bigint",
    Kind.BUNDLE_REF_PRODUCT_ID: "text",
    Kind.BUNDLE_REF_SLUG: "text",
    Kind.OPTIONAL_USER_REF_PK: "bigint",
    Kind.OPTIONAL_USER_REF_EMAIL: "text",
    Kind.OPTIONAL_USER_REF_EXTERNAL_ID: "text",
    Kind.REQUESTS_BUNDLE_PK: "bigint[]",
    Kind.REQUESTS_BUNDLE_PRODUCT_ID: "text[]",
    Kind.REQUESTS_BUNDLE_SLUG: "text[]",
    Kind.REQUESTS_USER_PK: "bigint[]",
    Kind.REQUESTS_USER_EMAIL: "text[]",
    Kind.REQUESTS_USER_EXTERNAL_ID: "text[]",
    Kind.ENUM: "text",
    Kind.ENUM_LIST: "text[]",
    Kind.OPTIONAL_COURSE_PK: "bigint",
    Kind.INSTANT: "timestamptz",
    Kind.INSTANT_TEXT: "text",
    Kind.HARDEST_LIMIT: "int",
    Kind.MIN_SAMPLE: "int",
    Kind.ENDPOINT_PK: "bigint",
    Kind.LESSON_IDS: "text[]",
    Kind.LESSON_PKS: "bigint[]",
}

# completionStatus answers at most this many ids (api/queries/progress.py says so with an error).
MAX_STATUS_IDS = 500


def _identifier(value: Any, _paging: Paging) -> str:
    if not isinstance(value, str) or contains_nul(value):
        # No stored identifier holds U+0000: the resolvers answer such a value without asking
        # PostgreSQL, which would refuse it.
        raise NotCompiled
    return value


def _email(value: Any, paging: Paging) -> str:
    return normalize_email(_identifier(value, paging))


def _user_pk(value: Any, _paging: Paging) -> int:
    pk = try_decode_id(value, "User") if isinstance(value, str) else None
    if pk is None:
        raise NotCompiled  # the resolver reports the malformed (or missing) id
    return pk


def _optional_user_pk(value: Any, paging: Paging) -> int | None:
    return None if value is None else _user_pk(value, paging)


def _first(value: Any, paging: Paging) -> int:
    if value is None:
        return paging.default_page_size
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotCompiled
    if not 0 <= value <= paging.max_page_size:
        raise NotCompiled
    return value


def _last(value: Any, paging: Paging) -> int:
    if value is None:
        raise NotCompiled  # `last: null` pages forward from the start: the resolvers' case
    return _first(value, paging)


def _after(value: Any, _paging: Paging) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise NotCompiled
    try:
        return decode_cursor(value)
    except InvalidInput:
        raise NotCompiled from None


def _lesson_ids(value: Any, _paging: Paging) -> list[str]:
    # GraphQL's input coercion: a single value where a list is expected is a list of one.
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_STATUS_IDS or not all(isinstance(item, str) for item in values):
        raise NotCompiled
    return values


def _lesson_pks(value: Any, paging: Paging) -> list[int | None]:
    return [try_decode_id(raw, "Lesson") for raw in _lesson_ids(value, paging)]


def _chosen(value: Any, identifiers: tuple[str, ...]) -> tuple[str, Any]:
    """The one identifier a reference input gives (api/inputs: exactly one, not null)."""
    if not isinstance(value, dict):
        raise NotCompiled
    given = [(name, value[name]) for name in identifiers if value.get(name) is not None]
    if len(given) != 1:
        raise NotCompiled  # the resolver reports "give exactly one of …"
    return given[0]


def _reference(
    identifiers: tuple[str, ...], wanted: str, convert: Callable[[Any, Paging], Any]
) -> Callable[[Any, Paging], Any]:
    def parameter(value: Any, paging: Paging) -> Any:
        name, given = _chosen(value, identifiers)
        return convert(given, paging) if name == wanted else None

    return parameter


def _global_id(type_name: str) -> Callable[[Any, Paging], int]:
    def pk(value: Any, _paging: Paging) -> int:
        decoded = try_decode_id(value, type_name) if isinstance(value, str) else None
        if decoded is None:
            raise NotCompiled
        return decoded

    return pk


def _enum(value: Any, _paging: Paging) -> str | None:
    # A variable arrives as the Python enum member (graphql-core's coercion), a literal as its name.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    raise NotCompiled


def _enum_list(value: Any, paging: Paging) -> list[str | None] | None:
    if value is None:
        return None
    # GraphQL's input coercion: a single value where a list is expected is a list of one.
    return [_enum(item, paging) for item in (value if isinstance(value, list) else [value])]


def _parse_datetime(text: str) -> Any:
    parse = DateTimeDefinition.parse_value
    assert parse is not None
    return parse(text)


def _instant(value: Any, _paging: Paging) -> datetime | None:
    if value is None:
        return None
    # A literal arrives as its text (validation parsed it already): parsed by the DateTime scalar.
    instant = _parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise NotCompiled  # analytics.window refuses a time without an offset: the resolvers say so
    return instant


def _instant_text(value: Any, paging: Paging) -> str | None:
    instant = _instant(value, paging)
    return None if instant is None else instant.isoformat()


def _int_within(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise NotCompiled  # null or out of range: the resolver reports it
    return value


def _min_sample(value: Any, paging: Paging) -> int:
    given = 0 if value is None else _int_within(value, 1, MAX_BIGINT_PK)
    return max(paging.analytics_min_sample, given)


def _optional(convert: Callable[[Any, Paging], Any]) -> Callable[[Any, Paging], Any]:
    return lambda value, paging: None if value is None else convert(value, paging)


def _each_request(part: str, convert: Callable[[Any, Paging], Any]) -> Callable[[Any, Paging], Any]:
    """One value per request of a batch: ``convert`` of the request's ``part`` (bundle, user)."""

    def parameter(value: Any, paging: Paging) -> list[Any]:
        # GraphQL's input coercion: a single value where a list is expected is a list of one.
        requests = value if isinstance(value, list) else [value]
        if len(requests) > MAX_BATCH or not all(isinstance(request, dict) for request in requests):
            raise NotCompiled  # the resolver reports the batch that is too long
        return [convert(request.get(part), paging) for request in requests]

    return parameter


USER_REF = ("id", "email", "externalId")
COURSE_REF = ("id", "slug", "productId")
BUNDLE_REF = ("id", "productId", "slug")

_USER_REF_CONVERSIONS: dict[Kind, Callable[[Any, Paging], Any]] = {
    Kind.USER_REF_PK: _reference(USER_REF, "id", _global_id("User")),
    Kind.USER_REF_EMAIL: _reference(USER_REF, "email", lambda v, p: _email(v, p)),
    Kind.USER_REF_EXTERNAL_ID: _reference(USER_REF, "externalId", lambda v, p: _identifier(v, p)),
}
_BUNDLE_REF_CONVERSIONS: dict[Kind, Callable[[Any, Paging], Any]] = {
    Kind.BUNDLE_REF_PK: _reference(BUNDLE_REF, "id", _global_id("Bundle")),
    Kind.BUNDLE_REF_PRODUCT_ID: _reference(BUNDLE_REF, "productId", lambda v, p: _identifier(v, p)),
    Kind.BUNDLE_REF_SLUG: _reference(BUNDLE_REF, "slug", lambda v, p: _identifier(v, p)),
}
_OPTIONAL_USER_REF_CONVERSIONS = {
    optional: _optional(_USER_REF_CONVERSIONS[required])
    for optional, required in (
        (Kind.OPTIONAL_USER_REF_PK, Kind.USER_REF_PK),
        (Kind.OPTIONAL_USER_REF_EMAIL, Kind.USER_REF_EMAIL),
        (Kind.OPTIONAL_USER_REF_EXTERNAL_ID, Kind.USER_REF_EXTERNAL_ID),
    )
}
_REQUESTS_CONVERSIONS = {
    **{
        batch: _each_request("bundle", _BUNDLE_REF_CONVERSIONS[single])
        for batch, single in (
            (Kind.REQUESTS_BUNDLE_PK, Kind.BUNDLE_REF_PK),
            (Kind.REQUESTS_BUNDLE_PRODUCT_ID, Kind.BUNDLE_REF_PRODUCT_ID),
            (Kind.REQUESTS_BUNDLE_SLUG, Kind.BUNDLE_REF_SLUG),
        )
    },
    **{
        batch: _each_request("user", _OPTIONAL_USER_REF_CONVERSIONS[single])
        for batch, single in (
            (Kind.REQUESTS_USER_PK, Kind.OPTIONAL_USER_REF_PK),
            (Kind.REQUESTS_USER_EMAIL, Kind.OPTIONAL_USER_REF_EMAIL),
            (Kind.REQUESTS_USER_EXTERNAL_ID, Kind.OPTIONAL_USER_REF_EXTERNAL_ID),
        )
    },
}

CONVERSIONS: dict[Kind, Callable[[Any, Paging], Any]] = {
    Kind.BUNDLE_PK: _global_id("Bundle"),
    Kind.ENUM: _enum,
    Kind.ENUM_LIST: _enum_list,
    Kind.OPTIONAL_COURSE_PK: _optional(_global_id("Course")),
    Kind.INSTANT: _instant,
    Kind.INSTANT_TEXT: _instant_text,
    Kind.HARDEST_LIMIT: lambda value, _paging: _int_within(value, 1, MAX_HARDEST_LIMIT),
    Kind.MIN_SAMPLE: _min_sample,
    Kind.ENDPOINT_PK: _optional(_global_id("WebhookEndpoint")),
    **_USER_REF_CONVERSIONS,
    **_BUNDLE_REF_CONVERSIONS,
    **_OPTIONAL_USER_REF_CONVERSIONS,
    **_REQUESTS_CONVERSIONS,
    Kind.COURSE_REF_PK: _reference(COURSE_REF, "id", _global_id("Course")),
    Kind.COURSE_REF_SLUG: _reference(COURSE_REF, "slug", lambda v, p: _identifier(v, p)),
    Kind.COURSE_REF_PRODUCT_ID: _reference(COURSE_REF, "productId", lambda v, p: _identifier(v, p)),
    Kind.TEXT: _identifier,
    Kind.EMAIL: _email,
    Kind.USER_PK: _user_pk,
    Kind.OPTIONAL_USER_PK: _optional_user_pk,
    Kind.FIRST: _first,
    Kind.LAST: _last,
    Kind.AFTER: _after,
    Kind.BEFORE: _after,
    Kind.LESSON_IDS: _lesson_ids,
    Kind.LESSON_PKS: _lesson_pks,
}


@dataclass(frozen=True, slots=True)
class Parameter:
    """Where a bound parameter's value comes from: a variable of the request, or a literal
    (which may hold variables in its lists and input objects: ``Variable``)."""

    kind: Kind
    variable: str | None = None
    literal: Any = None

    def value(self, coerced: dict[str, Any], paging: Paging) -> Any:
        raw = _filled(self.literal, coerced) if self.variable is None else coerced.get(self.variable)
        return CONVERSIONS[self.kind](raw, paging)


@dataclass(frozen=True, slots=True)
class Variable:
    """A variable inside a literal list or input object (``course: {slug: $slug}``)."""

    name: str


def _filled(literal: Any, coerced: dict[str, Any]) -> Any:
    """The literal with its variables' values, as GraphQL coerces it: an input object's field
    whose variable was not sent is left out, a list item's is null."""
    if isinstance(literal, Variable):
        return coerced.get(literal.name)
    if isinstance(literal, list):
        return [_filled(item, coerced) for item in literal]
    if isinstance(literal, dict):
        return {
            key: _filled(value, coerced)
            for key, value in literal.items()
            if not isinstance(value, Variable) or value.name in coerced
        }
    return literal
