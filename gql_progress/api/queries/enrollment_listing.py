"""User.enrollmentsConnection: a user's enrollments a page at a time, batched over users."""

from __future__ import annotations

from sqlalchemy import select

from gql_progress.api.context import Info
from gql_progress.api.loaders.child_rows import ChildRows, no_filter
from gql_progress.api.nested_pages import nested_connection
from gql_progress.api.pagination import Connection, PageArguments
from gql_progress.api.types.enrollment import Enrollment
from gql_progress.db.models import Enrollment as EnrollmentModel
from gql_progress.db.rows import EnrollmentRow, columns

# Oldest first, by id: a cursor needs a key unique within the user, which enrolled_at is not.
ENROLLMENTS_OF_USER = ChildRows(
    row=EnrollmentRow,
    query=no_filter(select(*columns(EnrollmentRow))),
    parent=EnrollmentModel.user_id,
    key=EnrollmentModel.id,
)


async def enrollments_connection(info: Info, user_id: int, paging: PageArguments) -> Connection[Enrollment]:
    return await nested_connection(info, ENROLLMENTS_OF_USER, user_id, paging, Enrollment.from_row)
