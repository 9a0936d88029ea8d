"""The import's and export's progress display: a bar with rows/s on a terminal, log lines elsewhere."""

from __future__ import annotations

import io

from gql_progress.transfer.meter import Meter


def test_a_terminal_gets_one_bar_redrawn_in_place_with_rows_per_second() -> None:
    stream = io.StringIO()
    meter = Meter(stream, interactive=True)
    meter.start("import progress.csv", total=1000)
    meter.shown = 0.0  # as if the last redraw were long ago
    meter.advance(10, position=500)
    meter.finish(note="10 written")

    text = stream.getvalue()
    assert text.startswith("\rimport progress.csv [##############..............]  50%  10 rows  ")
    assert "rows/s" in text
    assert "\rimport progress.csv [############################] 100%  10 rows  " in text
    assert text.count("\n") == 1  # the line ends once, when the file is done


def test_anything_else_gets_plain_lines_every_few_seconds_and_one_at_the_end() -> None:
    stream = io.StringIO()
    meter = Meter(stream, interactive=False, every_seconds=3600)
    meter.start("export progress")
    for _ in range(100):
        meter.advance(1000)
    meter.finish(note="100,000 exported")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("export progress: 100,000 rows  ")
    assert lines[0].endswith("rows/s  100,000 exported (done)")
    assert "\r" not in stream.getvalue()
