"""Many new rows at once, as fast as the database takes them: PostgreSQL's COPY there, Django's
bulk_create elsewhere (SQLite, for a one-person run).

A class grading writes tens of thousands of runs and check results. Through bulk_create on
PostgreSQL each value is quoted by psycopg in Python (Django 5.2 sends one array per column,
escaped element by element), which took most of a class grading's time; COPY hands the rows
to the server in its own format, quoted in C.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import QuerySet

M = TypeVar("M", bound=models.Model)


def rows_with_ids(queryset: QuerySet[M], ids: Sequence[int], *, column: str = "id") -> QuerySet[M]:
    """``queryset`` narrowed to rows whose ``column`` is one of ``ids``. On PostgreSQL as one
    array parameter (``= ANY(%s)``): an IN list of 500 placeholders is a query psycopg parses
    anew in Python each time (too long for its cache), which a class grading paid per chunk."""
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{column}__in": list(ids)})
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    where = f"{table}.{connection.ops.quote_name(column)} = ANY(%s)"
    return queryset.extra(where=[where], params=[list(ids)])  # noqa: S610 (names, not values)


def _value_of(
    field: models.Field[Any, Any], said: dict[int, tuple[Any, str]]
) -> Callable[[models.Model], Any]:
    """How to read a field's database value: plain columns as they are (psycopg adapts them),
    JSON as its text, fields with a pre_save (auto_now) through it."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), connection)
    attname = field.attname
    if isinstance(field, models.JSONField):
        assert field.encoder is None, field  # the text must be what Django's own would write

        def json_text(obj: models.Model) -> str | None:
            return _json_text(getattr(obj, attname), said)

        return json_text

    def plain(obj: models.Model) -> Any:
        value = getattr(obj, attname)
        # Django's choices mean the value (Trigger.BUTTON is "button"); psycopg writes an
        # Enum that is not also a str by its name.
        return value.value if isinstance(value, enum.Enum) else value

    return plain


def _json_text(value: Any, said: dict[int, tuple[Any, str]]) -> str | None:
    if value is None:
        return None  # SQL NULL, as Django writes it
    # A class's learners share their sentences (one dict for many results) and most evidence
    # lists are empty: each distinct object is encoded once. Keyed by identity, the object kept
    # alongside so its id cannot be reused while the insert runs.
    seen = said.get(id(value))
    if seen is None or seen[0] is not value:
        seen = said[id(value)] = (value, json.dumps(value))
    return seen[1]


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
        said: dict[int, tuple[Any, str]] = {}
        values = [_value_of(f, said) for f in fields]
        with cursor.cursor.copy(copy_sql) as copy:
            for obj in objects:
                copy.write_row([value(obj) for value in values])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


def rows_copy(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert plain rows (values in the order of ``fields``, JSON fields as Python values) into
    ``model``'s table without making a model of each: at a class's tens of thousands of check
    results, building the instances cost more than writing them."""
    if not rows:
        return
    meta = model._meta
    columns: list[models.Field[Any, Any]] = []
    for name in fields:
        field = meta.get_field(name)
        assert isinstance(field, models.Field), name  # a concrete column, not a relation's
        columns.append(field)
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**{f.attname: v for f, v in zip(columns, row, strict=True)}) for row in rows]
        )
        return
    said: dict[int, tuple[Any, str]] = {}
    json_at = [i for i, f in enumerate(columns) if isinstance(f, models.JSONField)]
    for i in json_at:
        assert getattr(columns[i], "encoder", None) is None, columns[i]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(f.column)) for f in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = list(row)
            for i in json_at:
                values[i] = _json_text(values[i], said)
            copy.write_row(values)
