"""Errors as data: mutation results are unions of a success payload and these types."""

from __future__ import annotations

import strawberry

from gql_progress.api.ids import encode_id
from gql_progress.domain import errors as domain
from gql_progress.domain.sequence import OutOfSequence


@strawberry.interface(
    description="A failure the client can act on. `code` is stable; `message` is for people."
)
class Error:
    code: str = strawberry.field(description="A stable, machine-readable error code.")
    message: str = strawberry.field(description="What went wrong, in words for a person.")


@strawberry.type(description="One bad input field.")
class FieldError:
    path: list[str] = strawberry.field(
        description='Where the field is, from the argument down, e.g. ["input", "notes"].'
    )
    message: str = strawberry.field(description="What is wrong with it.")


@strawberry.type(description="The input was refused; nothing was written. Every bad field is listed.")
class ValidationError(Error):
    fields: list[FieldError] = strawberry.field(description="Each bad field with its path.")


@strawberry.type(description="A referenced object does not exist; nothing was written.")
class NotFoundError(Error):
    pass


@strawberry.type(description="The caller may not do this (e.g. act for another user); nothing was written.")
class ForbiddenError(Error):
    pass


@strawberry.type(description="The user is not enrolled in the lesson's course; nothing was written.")
class NotEnrolledError(Error):
    pass


@strawberry.type(description="A unique value (slug, email, position…) is already taken; nothing was written.")
class ConflictError(Error):
    path: list[str] = strawberry.field(description="The field whose value is taken.")


@strawberry.type(
    description=(
        "The lesson belongs to a sequential course and an earlier lesson is not completed yet; "
        "nothing was written. Recording position or time is allowed, only completion is gated."
    )
)
class SequenceError(Error):
    missing_lesson_id: strawberry.ID = strawberry.field(
        description="The first earlier lesson still to complete (required, or any when none is)."
    )


@strawberry.type(description="The error of one item of a batch; the other items are unaffected.")
class ItemError:
    code: str = strawberry.field(
        description="INVALID_ID, NOT_FOUND, NOT_ENROLLED or OUT_OF_SEQUENCE (stable, machine-readable)."
    )
    message: str = strawberry.field(description="What went wrong, in words for a person.")


def error_from(
    exc: domain.DomainError, input_path: tuple[str, ...] = ("input",)
) -> ValidationError | NotFoundError | ForbiddenError | NotEnrolledError | ConflictError | SequenceError:
    """The GraphQL error type for a domain failure; field paths are given in the API's names."""
    if isinstance(exc, domain.InvalidInput):
        return ValidationError(
            code=exc.code,
            message=exc.message,
            fields=[
                FieldError(path=[*input_path, *(camel(p) for p in problem.path)], message=problem.message)
                for problem in exc.problems
            ],
        )
    if isinstance(exc, domain.NotFound):
        return NotFoundError(code=exc.code, message=exc.message)
    if isinstance(exc, domain.Forbidden):
        return ForbiddenError(code=exc.code, message=exc.message)
    if isinstance(exc, domain.NotEnrolled):
        return NotEnrolledError(code=exc.code, message=exc.message)
    if isinstance(exc, OutOfSequence):
        missing = strawberry.ID(encode_id("Lesson", exc.missing_lesson_id))
        return SequenceError(code=exc.code, message=exc.message, missing_lesson_id=missing)
    if isinstance(exc, domain.Conflict):
        return ConflictError(
            code=exc.code, message=exc.message, path=[*input_path, *(camel(p) for p in exc.path)]
        )
    raise exc


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
