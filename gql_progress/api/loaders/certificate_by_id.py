from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.db.models import Certificate


class CertificateByIdLoader(RowByIdLoader):
    columns = tuple(Certificate.__table__.c)
