"""The one-of course ref: a course named by its global id, slug or the platform's product id."""

from __future__ import annotations

import strawberry
from strawberry import UNSET

from gql_progress.api.inputs.one_of import global_id, one_of
from gql_progress.domain.errors import ProblemList
from gql_progress.domain.teaching import CourseRef


@strawberry.input(one_of=True, description="A course, by exactly one of its identifiers.")
class CourseRefInput:
    id: strawberry.ID | None = strawberry.field(default=UNSET, description="Global id.")
    slug: str | None = strawberry.field(default=UNSET, description="The course's slug.")
    product_id: str | None = strawberry.field(default=UNSET, description="The platform's product id.")


def course_ref(problems: ProblemList, ref: CourseRefInput, path: tuple[str, ...]) -> CourseRef | None:
    return one_of(
        problems,
        path,
        {
            "id": (ref.id, global_id(problems, (*path, "id"), "Course", lambda pk: CourseRef(id=pk))),
            "slug": (ref.slug, lambda key: CourseRef(slug=key)),
            "productId": (ref.product_id, lambda key: CourseRef(product_id=key)),
        },
    )
