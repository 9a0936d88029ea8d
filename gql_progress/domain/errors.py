"""Expected failures. The API turns each into a typed GraphQL error with a stable ``code``.

Raising one inside a write transaction rolls it back, so nothing is ever half-written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

A = TypeVar("A")


@dataclass(frozen=True)
class FieldProblem:
    """One bad input field: ``path`` names it from the argument down, e.g. ("input", "notes")."""

    path: tuple[str, ...]
    message: str


class DomainError(Exception):
    code = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    code = "VALIDATION_FAILED"

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.problems = problems
        fields = ", ".join(".".join(p.path) for p in problems)
        super().__init__(message or f"Invalid input: {fields}")


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, what: str, identifier: object | None = None) -> None:
        self.what = what
        suffix = f" {identifier}" if identifier is not None else ""
        super().__init__(f"{what.capitalize()}{suffix} was not found")


class Forbidden(DomainError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "You may not act for another user") -> None:
        super().__init__(message)


class NotEnrolled(DomainError):
    code = "NOT_ENROLLED"

    def __init__(self, message: str = "The user is not enrolled in this lesson's course") -> None:
        super().__init__(message)


class Conflict(DomainError):
    code = "CONFLICT"

    def __init__(self, field_path: tuple[str, ...], message: str) -> None:
        self.path = field_path
        super().__init__(message)


@dataclass
class ProblemList:
    """Collects every bad field before failing, so a client fixes them all in one round."""

    problems: list[FieldProblem] = field(default_factory=list)

    def add(self, path: tuple[str, ...], message: str) -> None:
        self.problems.append(FieldProblem(path, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise InvalidInput(self.problems)

    def read_or_raise(self, value: A | None) -> A:
        """After reads that note their problems here and answer None for what they could not
        read: InvalidInput listing every problem, else ``value`` (read, so not None)."""
        self.raise_if_any()
        if value is None:
            raise AssertionError("a read answered None without noting a problem")
        return value
