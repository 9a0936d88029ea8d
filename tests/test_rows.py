"""Typed rows (db/rows.py): each row class is its table's columns, typed as the model declares
them, so db/models.py stays the one declaration and a renamed column fails here and in mypy."""

from __future__ import annotations

import asyncio
import typing
from typing import Any

import pytest
from sqlalchemy import Column, Label, select
from sqlalchemy.sql.elements import KeyedColumnElement

from gql_progress.api.loaders import Loaders
from gql_progress.api.loaders.child_rows import ChildRows, no_filter
from gql_progress.db import rows
from gql_progress.db.models import Base, Lesson
from tests.support import Api


def _annotation(value: object) -> str:
    # NamedTuple keeps postponed annotations as ForwardRefs, declarative models as strings.
    return value.__forward_arg__ if isinstance(value, typing.ForwardRef) else str(value)


def _model_annotation(selected: KeyedColumnElement[Any]) -> str:
    # A joined table's column under a name of its own (DeliveryListingRow) has its model's type.
    column = selected.element if isinstance(selected, Label) else selected
    assert isinstance(column, Column)
    mapper = next(m for m in Base.registry.mappers if m.local_table is column.table)
    attribute = mapper.get_property_by_column(column).key
    declared = _annotation(mapper.class_.__annotations__[attribute])
    assert declared.startswith("Mapped["), declared
    assert declared.endswith("]"), declared
    return declared.removeprefix("Mapped[").removesuffix("]")


@pytest.mark.parametrize("row_class", list(rows.registered()), ids=lambda c: c.__name__)
def test_a_row_class_has_its_columns_names_and_the_models_types(row_class: type) -> None:
    declared = rows.columns(row_class)
    assert row_class._fields == tuple(column.key for column in declared)  # type: ignore[attr-defined]
    fields = {name: _annotation(value) for name, value in row_class.__annotations__.items()}
    assert fields == {column.key: _model_annotation(column) for column in declared}


def test_every_table_read_whole_has_a_row_class() -> None:
    covered = {column.table for columns in rows.registered().values() for column in columns}
    # Written only by their own modules and never handed across a boundary as rows.
    assert {str(m.local_table) for m in Base.registry.mappers if m.local_table not in covered} == {
        "course_instructors",
        "idempotency_keys",
    }


def test_a_row_class_whose_fields_are_not_its_columns_is_refused_at_import() -> None:
    keys = [column.key for column in Lesson.__table__.c]
    # Only the fields matter to row_of: stand-ins for LessonRow after a column was renamed or added.
    renamed = type(
        "LessonRow", (tuple,), {"_fields": tuple(key if key != "title" else "name" for key in keys)}
    )
    with pytest.raises(TypeError, match="title"):
        rows.row_of(Lesson.__table__.c)(renamed)
    missing = type("LessonRow", (tuple,), {"_fields": tuple(keys[:-1])})
    with pytest.raises(TypeError, match="removed_at"):
        rows.row_of(Lesson.__table__.c)(missing)
    assert rows.columns(rows.LessonRow) == tuple(Lesson.__table__.c)


async def test_loaders_hand_out_typed_rows_read_from_the_database(api: Api) -> None:
    course = await api.course(lessons=2)
    loaders = Loaders(api.db)

    by_id, lessons = await asyncio.gather(
        loaders.course_by_id.load(course.pk), loaders.lessons_by_course.load(course.pk)
    )

    assert isinstance(by_id, rows.CourseRow)
    assert by_id.slug == course.slug
    assert [type(lesson) for lesson in lessons] == [rows.LessonRow, rows.LessonRow]
    assert [lesson.id for lesson in lessons] == course.lesson_pks


def test_a_nested_connection_refuses_a_select_that_does_not_read_its_row_class() -> None:
    wrong = ChildRows(
        row=rows.LessonRow,
        query=no_filter(select(*rows.columns(rows.CourseRow))),
        parent=Lesson.course_id,
        key=Lesson.id,
    )
    with pytest.raises(ValueError, match="LessonRow"):
        wrong.of_parents(None, [1])


def test_a_select_is_read_as_a_row_class_only_when_it_selects_its_fields_in_order() -> None:
    table = Lesson.__table__.c
    rows.check_reads(select(*rows.columns(rows.LessonRow)), rows.LessonRow)
    with pytest.raises(ValueError, match="LessonRow"):
        rows.check_reads(select(*reversed(rows.columns(rows.LessonRow))), rows.LessonRow)
    with pytest.raises(ValueError, match="LessonRow"):
        rows.check_reads(select(table.id, table.title), rows.LessonRow)
