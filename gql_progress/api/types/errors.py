"""Errors as data: mutation results are unions of a success payload and these types.

Which domain error becomes which of them is api/error_data.py's table.
"""

from __future__ import annotations

import strawberry


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
