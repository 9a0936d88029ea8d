"""Moving data in and out in bulk: ``gql-progress import`` and ``gql-progress export``.

For a platform arriving from another LMS, and for BI tools reading ours. Files name things by
the platform's identifiers (user email or external id, course slug or product id, lesson
external id), never by our ids, so an import needs nothing from us first. docs/migration.md
documents every column.

- ``columns.py``   each file kind's columns: name, type, required, and the parser of one cell
- ``reading.py``   finding the files and reading CSV or JSON Lines into batches of parsed rows
- ``staging.py``   a batch into a temporary table: COPY on PostgreSQL, a multi-row INSERT on SQLite
- ``loads.py``     per kind, the set-based statements from the staging table into ours
- ``importer.py``  the import: files in dependency order, a transaction per batch, the report,
                   then the completion engine's rules
- ``exporter.py``  the export: a server-side cursor streamed into CSV, JSON Lines or Parquet
- ``meter.py``     the progress bar (a terminal) or log lines (anything else)

Imports flow one way: this package uses the domain (the completion engine) and the database;
nothing in the domain or the API imports it.
"""
