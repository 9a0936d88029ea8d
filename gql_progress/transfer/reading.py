"""Finding the import's files and reading them, CSV or JSON Lines, into batches of parsed rows.

A bad cell refuses its row (a RowError naming file, line and column) and the good rows go on;
a file that cannot be read as a whole (unknown or missing columns, an unknown kind) is refused
before any of its rows is loaded (FileRefused).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from gql_progress.transfer.columns import BY_NAME, KINDS, CellError, Column, Kind

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class FileRefused(Exception):
    """A file that cannot be imported at all; none of its rows was loaded."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int
    column: str  # empty when the reason is about the row as a whole
    reason: str


@dataclass(frozen=True)
class Source:
    """One file to import: its kind and format."""

    path: Path
    kind: Kind
    format: str  # csv | jsonl

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def _suffixes(path: Path) -> tuple[str, bool]:
    """The format suffix and whether the file is gzipped (``progress.csv.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), gzipped


def source_of(path: Path, kind_name: str | None = None) -> Source:
    suffix, _ = _suffixes(path)
    if suffix not in FORMATS:
        raise FileRefused(path, "is neither .csv nor .jsonl (optionally .gz)")
    name = kind_name or path.name.split(".")[0]
    if name not in BY_NAME:
        raise FileRefused(path, f"its name must start with one of {', '.join(BY_NAME)} (or pass --kind)")
    return Source(path, BY_NAME[name], FORMATS[suffix])


def find_sources(target: Path, kind_name: str | None = None) -> list[Source]:
    """The files to import, in dependency order: a directory's files named after their kind
    (``users.csv``, ``progress.jsonl``…), or one file."""
    if not target.exists():
        raise FileRefused(target, "does not exist")
    if target.is_file():
        return [source_of(target, kind_name)]
    found: dict[str, list[Source]] = {}
    for path in sorted(target.iterdir()):
        suffix, _ = _suffixes(path)
        name = path.name.split(".")[0]
        if path.is_file() and suffix in FORMATS and name in BY_NAME:
            found.setdefault(name, []).append(source_of(path))
    if not found:
        raise FileRefused(target, f"holds no {', '.join(f'{k}.csv' for k in BY_NAME)} (or .jsonl) files")
    return [source for kind in KINDS for source in found.get(kind.name, [])]


@dataclass
class Batch:
    """Parsed rows, each ``(line, value of every column of the kind…)``, and the refused ones."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    bytes_read: int = 0  # of the file so far, for the progress bar


class _Counting:
    """Iterates a text file's lines, counting the characters read (the progress bar's position)."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.read = 0

    def __iter__(self) -> Iterator[str]:
        for line in self.handle:
            self.read += len(line)
            yield line


def _open(path: Path) -> IO[str]:
    _, gzipped = _suffixes(path)
    # utf-8-sig: spreadsheet programs start CSV files with a byte-order mark.
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


class _RowParser:
    """Parses the cells of one row into the kind's column order, ``(line, value…)``.

    Per column, built once: where the cell comes from (a CSV index or a JSON key), its parser,
    and its empty value. This is the import's hot loop: a million progress rows run it a
    million times.
    """

    def __init__(self, source: Source, present: list[str], where: dict[str, Any]) -> None:
        kind = source.kind
        self.file = str(source.path)
        self.width = len(kind.columns) + 1
        # Absent columns hold their empty value in every row: a template copied per row.
        self.template: list[Any] = [None, *(c.empty for c in kind.columns)]
        self.cells = [
            (slot, where[c.name], c.parse, c.required, c.empty, c.name)
            for slot, c in enumerate(kind.columns, start=1)
            if c.name in present
        ]
        slots = {c.name: slot for slot, c in enumerate(kind.columns, start=1)}
        self.one_of = [(slots[a], slots[b], a, b) for a, b in kind.one_of]

    def parse(self, line: int, cells: Any, batch: Batch) -> None:
        """``cells``: a CSV record (a list, read by index) or a JSON object (read by key)."""
        row = self.template.copy()
        row[0] = line
        bad = False
        is_dict = isinstance(cells, dict)
        for slot, where, parse, required, empty, name in self.cells:
            raw = cells.get(where) if is_dict else cells[where]
            if raw is None or raw == "":
                if required:
                    batch.errors.append(RowError(self.file, line, name, "is required"))
                    bad = True
                row[slot] = empty
                continue
            try:
                row[slot] = parse(raw)
            except CellError as exc:
                batch.errors.append(RowError(self.file, line, name, str(exc)))
                bad = True
        for first, second, first_name, second_name in self.one_of:
            # Both may be given (an exported file has both): loads.py checks they agree.
            if row[first] is None and row[second] is None:
                batch.errors.append(RowError(self.file, line, "", f"give {first_name} or {second_name}"))
                bad = True
        if not bad:
            batch.rows.append(tuple(row))


def check_header(source: Source, header: list[str]) -> list[str]:
    """The kind's columns the file has; FileRefused for unknown, repeated or missing ones."""
    kind = source.kind
    known = {c.name for c in kind.columns}
    unknown = [name for name in header if name not in known and name not in kind.export_only]
    if unknown:
        raise FileRefused(
            source.path,
            f"unknown column(s) {', '.join(map(repr, unknown))}; {kind.name} files have "
            f"{', '.join(c.name for c in kind.columns)}",
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise FileRefused(source.path, f"column(s) {', '.join(repeated)} appear more than once")
    missing = [c.name for c in kind.columns if c.required and c.name not in header]
    missing += [f"{a} or {b}" for a, b in kind.one_of if a not in header and b not in header]
    if missing:
        raise FileRefused(source.path, f"missing required column(s): {', '.join(missing)}")
    return [name for name in header if name in known]


def read_batches(source: Source, batch_size: int) -> Iterator[Batch]:
    """The file's rows, parsed, ``batch_size`` at a time (with the rows refused among them)."""
    with _open(source.path) as handle:
        lines = _Counting(handle)
        fills = _csv_lines(source, lines) if source.format == "csv" else _jsonl_lines(source, lines)
        batch = Batch()
        for fill in fills:
            fill(batch)
            if len(batch.rows) + len(batch.errors) >= batch_size:
                batch.bytes_read = lines.read
                yield batch
                batch = Batch()
        batch.bytes_read = lines.read
        yield batch


# What one line of a file adds to the batch being filled: its parsed row, or why it was refused.
Fill = Callable[[Batch], None]


def _refused(source: Source, line: int, column: str, message: str) -> Fill:
    return partial(_add_error, RowError(str(source.path), line, column, message))


def _add_error(error: RowError, batch: Batch) -> None:
    batch.errors.append(error)


def _csv_lines(source: Source, lines: _Counting) -> Iterator[Fill]:
    reader = csv.reader(lines, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise FileRefused(source.path, "is empty (a CSV file starts with a header row)") from None
    present = check_header(source, header)
    parser = _RowParser(source, present, {name: header.index(name) for name in present})
    width = len(header)
    previous_end = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = previous_end + 1
            raise FileRefused(source.path, f"line {line}: not valid CSV ({exc})") from None
        line, previous_end = previous_end + 1, reader.line_num
        if not record:
            continue  # a blank line
        if len(record) != width:
            yield _refused(source, line, "", f"has {len(record)} cells; the header has {width}")
        else:
            yield partial(parser.parse, line, record)


def _jsonl_lines(source: Source, lines: _Counting) -> Iterator[Fill]:
    kind = source.kind
    everything = [c.name for c in kind.columns]
    parser = _RowParser(source, everything, {name: name for name in everything})
    known = set(everything) | kind.export_only
    required = {c.name for c in kind.columns if c.required}
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            cells = orjson.loads(text)
        except orjson.JSONDecodeError:
            yield _refused(source, line, "", "is not a JSON object")
            continue
        if cells is None:
            continue  # a JSON null: neither a row nor a refusal
        if not isinstance(cells, dict):
            yield _refused(source, line, "", "is not a JSON object")
        elif unknown := sorted(set(cells) - known):
            yield _refused(source, line, unknown[0], "is not a known field")
        elif missing := sorted(name for name in required if name not in cells):
            yield _refused(source, line, missing[0], "is required")
        else:
            yield partial(parser.parse, line, cells)


def present_columns(source: Source) -> list[Column]:
    """The kind's columns the file sets: a CSV file's header, every column for JSON Lines (whose
    rows each say what they set; an absent field reads as empty)."""
    if source.format == "jsonl":
        return list(source.kind.columns)
    with _open(source.path) as handle:
        header = next(csv.reader(handle), [])
    present = set(check_header(source, [name.strip() for name in header]))
    return [c for c in source.kind.columns if c.name in present]
