"""The one-of course ref: a course named by its global id, slug or the platform's product id."""

from __future__ import annotations

import strawberry
from strawberry import UNSET

from gql_progress.domain.errors import ProblemList
from gql_progress.domain.ids import decode_into
from gql_progress.domain.teaching import CourseRef


@strawberry.input(one_of=True, description="A course, by exactly one of its identifiers.")
class CourseRefInput:
    id: strawberry.ID | None = strawberry.field(default=UNSET, description="Global id.")
    slug: str | None = strawberry.field(default=UNSET, description="The course's slug.")
    product_id: str | None = strawberry.field(default=UNSET, description="The platform's product id.")


def course_ref(problems: ProblemList, ref: CourseRefInput, path: tuple[str, ...]) -> CourseRef | None:
    # GraphQL enforces one-of; this is the second line (see inputs/bundles.py).
    given = {"id": ref.id, "slug": ref.slug, "productId": ref.product_id}
    chosen = [name for name, value in given.items() if value is not UNSET and value is not None]
    if len(chosen) != 1:
        problems.add(path, "give exactly one of id, slug, productId")
        return None
    if chosen[0] == "id":
        pk = decode_into(problems, ref.id, "Course", (*path, "id"))
        return None if pk is None else CourseRef(id=pk)
    if chosen[0] == "slug":
        return CourseRef(slug=ref.slug)
    return CourseRef(product_id=ref.product_id)
