"""Validation of a document against the schema, once per document text, without suggestions in
production.

Strawberry's ValidationCache calls graphql-core's ``validate`` without ``hide_suggestions``, so its
messages end in "Did you mean 'email'?" — a map of the schema for whoever misspells on purpose.
This extension validates with the same rules (Strawberry's own two included) and
graphql-core's ``hide_suggestions`` in production, and caches the errors by the document's text
(hashing the text is cheaper than hashing the parsed document, which graphql-core does node by
node). When validation gives up (too many errors, or a document nested past what it can walk),
the client gets a message that says what to do, not only "Validation aborted.".
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

# graphql-core's default: past this many errors it stops.
MAX_ERRORS = 100
ABORTED_MESSAGE = (
    "Validation stopped: the document has too many errors or nests too deeply to check; "
    "fix the errors above and send it again"
)
STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (MaybeNullValidationRule, OneOfInputValidationRule)


def _explained(error: GraphQLError) -> GraphQLError:
    if isinstance(error, ValidationAbortedError):
        return GraphQLError(ABORTED_MESSAGE, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})
    return error


def validate_once(
    schema: GraphQLSchema,
    query: str,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """The errors of ``document`` (the parse of ``query``), from the cache when this text was
    validated before. A document without its text (empty ``query``) is validated every time."""
    if not query:
        return _uncached(schema, document, rules, hide_suggestions)
    return _cached(schema, query, rules, hide_suggestions, _Holder(document))


class _Holder:
    """Carries the parsed document into the cached function without being part of its key."""

    __slots__ = ("document",)

    def __init__(self, document: DocumentNode) -> None:
        self.document = document

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Holder)


@lru_cache(maxsize=256)
def _cached(
    schema: GraphQLSchema,
    query: str,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
    holder: _Holder,
) -> list[GraphQLError]:
    return _uncached(schema, holder.document, rules, hide_suggestions)


def _uncached(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    errors = validate(
        schema, document, rules + STRAWBERRY_RULES, max_errors=MAX_ERRORS, hide_suggestions=hide_suggestions
    )
    return [_explained(error) for error in errors]


class CachedValidation(SchemaExtension):
    """Validates each operation's document (see the module doc)."""

    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None:
            execution.pre_execution_errors = validate_once(
                execution.schema._schema,
                execution.query or "",
                document,
                tuple(execution.validation_rules),
                self.hide_suggestions,
            )
        yield


def hide_suggestions_in_execution(schema: Any) -> None:
    """Variables are coerced when execution starts, and their messages suggest too ("Field
    'emial' is not defined by type 'UserRefInput'. Did you mean 'email'?"). Strawberry does not
    pass graphql-core's ``hide_suggestions`` to ``execute``; its executor class does receive it,
    in ``build`` (graphql-core >= 3.3, tested in tests/test_suggestions.py)."""
    base: Any = schema.execution_context_class

    class WithoutSuggestions(base):  # type: ignore[misc]
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            kwargs["hide_suggestions"] = True
            return super().build(*args, **kwargs)

    WithoutSuggestions.__name__ = f"{base.__name__}WithoutSuggestions"
    schema.execution_context_class = WithoutSuggestions
