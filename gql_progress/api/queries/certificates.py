from __future__ import annotations

from typing import Annotated

import strawberry

from gql_progress.api.context import Info
from gql_progress.api.types.certificate import CertificateVerification
from gql_progress.domain.certificates import verify_certificate


@strawberry.type
class CertificateQueries:
    @strawberry.field(
        description=(
            "Check a certificate by its code. Public: works without an API key (a query that "
            "selects only this field needs none). Returns the learner's name, the course's title "
            "and the date, or null for an unknown code; it reveals nothing else."
        )
    )
    async def verify_certificate(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description="The code printed on the certificate.")],
    ) -> CertificateVerification | None:
        row = await verify_certificate(info.context.db, code)
        if row is None:
            return None
        return CertificateVerification(
            learner_name=row.learner_name, course_title=row.course_title, issued_at=row.issued_at
        )
