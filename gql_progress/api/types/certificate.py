from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.node import Node
from gql_progress.db.rows import CertificateRow
from gql_progress.domain.ids import encode_id

if TYPE_CHECKING:
    from gql_progress.api.types.course import Course
    from gql_progress.api.types.user import User


@strawberry.type(
    description=(
        "Proof that a learner completed a course. Issued once per learner and course, the first "
        "time the enrollment completes, when the course has certificateEnabled."
    )
)
class Certificate(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    code: str = strawberry.field(
        description="The unguessable verification code: anyone may check it with verifyCertificate."
    )
    issued_at: datetime = strawberry.field(description="When the certificate was issued.")
    user_id: strawberry.Private[int]
    course_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: CertificateRow) -> Certificate:
        return cls(
            id=strawberry.ID(encode_id("Certificate", row.id)),
            code=row.code,
            issued_at=row.issued_at,
            user_id=row.user_id,
            course_id=row.course_id,
        )

    @strawberry.field(description="The learner.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("gql_progress.api.types.user")]:
        from gql_progress.api.types.user import user_by_pk

        return await user_by_pk(info, self.user_id)

    @strawberry.field(description="The course completed.")
    async def course(self, info: Info) -> Annotated[Course, strawberry.lazy("gql_progress.api.types.course")]:
        from gql_progress.api.types.course import course_by_pk

        return await course_by_pk(info, self.course_id, subject_user_id=self.user_id)


@strawberry.type(description="What a certificate's code proves, and nothing more.")
class CertificateVerification:
    learner_name: str = strawberry.field(description="The learner's name.")
    course_title: str = strawberry.field(description="The course's title.")
    issued_at: datetime = strawberry.field(description="When the certificate was issued.")
