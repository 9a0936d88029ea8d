"""The export's file formats, each written a batch at a time: CSV, JSON Lines, Parquet.

Cells are written the way the import reads them: timestamps in ISO 8601 UTC with a ``Z``,
booleans as true/false, JSON objects as their JSON text (CSV) or as objects (JSON Lines), null
as an empty cell (CSV) or null. Parquet has typed columns (timestamps as UTC microseconds).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any, Protocol

import orjson

from gql_progress.transfer.exporter import Field

FORMATS = ("csv", "jsonl", "parquet")


class Writer(Protocol):
    def write(self, rows: Sequence[tuple[Any, ...]]) -> None: ...

    def close(self) -> None: ...


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # UTCDateTime hands back UTC already: no conversion per cell
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _boolean(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _timestamp(value: datetime | None) -> str:
    return "" if value is None else _stamp(value)


def _json(value: Any) -> str:
    return "" if value is None else orjson.dumps(value).decode()


# Per column type, what a CSV cell needs (None: nothing; the csv module writes None as empty).
_CSV_CELLS: dict[str, Any] = {"boolean": _boolean, "timestamp": _timestamp, "json": _json}


class CsvWriter:
    def __init__(self, handle: IO[str], fields: Sequence[Field]) -> None:
        self.writer = csv.writer(handle, lineterminator="\n")
        self.header: list[str] | None = [f.name for f in fields]
        self.cells = [_CSV_CELLS.get(f.type) for f in fields]

    def _start(self) -> None:
        # The header waits for the first rows (or the end): an export refused before it reads
        # anything (an unknown --course) leaves standard output empty.
        if self.header is not None:
            self.writer.writerow(self.header)
            self.header = None

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._start()
        if not rows:
            return
        columns = [
            column if cell is None else [cell(value) for value in column]
            for cell, column in zip(self.cells, zip(*rows, strict=True), strict=True)
        ]
        self.writer.writerows(zip(*columns, strict=True))

    def close(self) -> None:
        self._start()


class JsonLinesWriter:
    def __init__(self, handle: IO[bytes], fields: Sequence[Field]) -> None:
        self.handle = handle
        self.names = [f.name for f in fields]

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        names = self.names
        self.handle.write(
            b"".join(
                orjson.dumps(dict(zip(names, row, strict=True)), option=orjson.OPT_UTC_Z) + b"\n"
                for row in rows
            )
        )

    def close(self) -> None:
        pass


class ParquetWriter:
    """pyarrow's ParquetWriter, a row group per batch (the optional ``parquet`` extra)."""

    def __init__(self, handle: IO[bytes], fields: Sequence[Field]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - the dev extra installs it
            raise RuntimeError("Parquet needs pyarrow: pip install 'gql-progress[parquet]'") from None
        types = {
            "text": pa.string(),
            "integer": pa.int64(),
            "number": pa.float64(),
            "boolean": pa.bool_(),
            "timestamp": pa.timestamp("us", tz="UTC"),
            "json": pa.string(),
        }
        self.pa = pa
        self.json = [f.type == "json" for f in fields]
        self.schema = pa.schema([pa.field(f.name, types[f.type]) for f in fields])
        self.writer = pq.ParquetWriter(handle, self.schema)

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        arrays = [
            self.pa.array(
                [None if v is None else orjson.dumps(v).decode() for v in column] if is_json else column,
                type=field.type,
            )
            for column, is_json, field in zip(columns, self.json, self.schema, strict=True)
        ]
        self.writer.write_batch(self.pa.record_batch(arrays, schema=self.schema))

    def close(self) -> None:
        self.writer.close()
