from __future__ import annotations

from gql_progress.api.loaders.by_id import RowByIdLoader
from gql_progress.domain.completion.statements import PROGRESS_COLUMNS


class ProgressByIdLoader(RowByIdLoader):
    columns = tuple(PROGRESS_COLUMNS)
