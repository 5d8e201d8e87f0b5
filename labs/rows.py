"""Many new rows at once, as fast as the database takes them: PostgreSQL's COPY there, Django's
bulk_create elsewhere (SQLite, for a one-person run).

A class grading writes tens of thousands of runs and check results. Through bulk_create on
PostgreSQL each value is quoted by psycopg in Python (Django 5.2 sends one array per column,
escaped element by element), which took most of a class grading's time; COPY hands the rows
to the server in its own format, quoted in C.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def _value_of(field: models.Field[Any, Any]) -> Callable[[models.Model], Any]:
    """How to read a field's database value: plain columns as they are (psycopg adapts them),
    JSON through Django's own adapter, and fields with a pre_save (auto_now) through it."""
    if (
        isinstance(field, models.JSONField)
        or getattr(field, "auto_now", False)
        or getattr(field, "auto_now_add", False)
    ):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), connection)
    attname = field.attname

    def plain(obj: models.Model) -> Any:
        value = getattr(obj, attname)
        # Django's choices mean the value (Trigger.BUTTON is "button"); psycopg writes an
        # Enum that is not also a str by its name.
        return value.value if isinstance(value, enum.Enum) else value

    return plain


def rows_insert(objects: Sequence[M], *, with_ids: bool = False) -> Sequence[M]:
    """Insert `objects` (all of one model); with_ids also sets each one's primary key, taken
    from the table's own sequence, as bulk_create does."""
    if not objects:
        return objects
    model = type(objects[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(list(objects))
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if with_ids or f is not pk]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if with_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, pk.column, len(objects)],
            )
            for obj, (new_id,) in zip(objects, cursor.fetchall(), strict=True):
                obj.pk = new_id
        columns = ", ".join(quote(f.column) for f in fields)
        copy_sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        values = [_value_of(f) for f in fields]
        with cursor.cursor.copy(copy_sql) as copy:
            for obj in objects:
                copy.write_row([value(obj) for value in values])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects
