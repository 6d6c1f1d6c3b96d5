"""Several new rows in one INSERT statement: one round trip, all or nothing even outside a
transaction, for the hot ingest paths (a change with its delivery record; an incident with its
alert, components, timeline entry and delivery record).

Model.save() per row costs a round trip each and, in Python, several times what the database
spends on the row; here the statement's text is built once per shape and each row only
contributes its values (converted as save() converts them). No signals are sent, and fields
with a database default (db_default) are not supported: use it only for models without either.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Field, Model

# (row, field name, earlier row): the field takes the earlier row's new primary key.
Link = tuple[Model, str, Model]


@contextmanager
def durable_statement() -> Iterator[None]:
    """For a write of one statement that must be committed when it returns (ingest answers 2xx
    only then): outside a transaction, where the statement commits on its own, without one of
    its own (BEGIN and COMMIT would be two more round trips). Like atomic(durable=True), it
    refuses to run inside someone's transaction, and inside a test's it takes a savepoint."""
    if not connection.in_atomic_block:
        yield
        return
    with transaction.atomic(durable=True):
        yield


# psycopg prepares a statement when asked to (prepare=True) only while the connection has a
# threshold, which Django leaves unset: one that is never reached lets the explicit requests
# through and nothing else. (Django's own cursors bind on the client and never prepare.)
EXPLICIT_PREPARES_ONLY = 2**31


class _PreparedCursor(ServerBindingCursor):
    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        return super().execute(query, params, **{**options, "prepare": True})


class _LoggedCursor(CursorDebugWrapper):
    """Logs each statement with its values in, as Django logs those of a server-side binding
    cursor (of a prepared one, psycopg keeps no text for Django to read back)."""

    def execute(self, sql: str, params: Any = None) -> Any:
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)


def cursor() -> Any:
    """A cursor for the hand-written statements of the hot paths, whose text is the same every
    time. On PostgreSQL it sends the values apart from the statement (server-side binding,
    which Django supports but does not use by default), and each statement is prepared once per
    connection: psycopg spends no time quoting each value into the statement's text (a third of
    what an insert of a few dozen values costs in Python), and PostgreSQL no time planning it
    again (three quarters of what it spends on a lookup by index that joins two wide tables,
    a third of an insert of a change and its delivery record). Logged and wrapped like any
    cursor of Django's. (Behind a pooler in transaction mode, named prepared statements need
    its support: PgBouncer 1.21+ with max_prepared_statements.)"""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        connection.connection.prepare_threshold = EXPLICIT_PREPARES_ONLY
    raw = _PreparedCursor(connection.connection)
    if connection.queries_logged:  # as connection.cursor() wraps its cursors
        return _LoggedCursor(raw, connection)
    return connection.make_cursor(raw)


def insert_rows(*rows: Model, links: Sequence[Link] = ()) -> None:
    """Insert `rows` (none saved yet) in one statement, setting their primary keys and linked
    fields. Each link fills a row's field (a foreign key, or a plain id column) with the new
    primary key of a row that comes before it in `rows`. Raises IntegrityError as the
    separate INSERTs would, and then stores nothing."""
    index = {id(row): position for position, row in enumerate(rows)}
    linked: list[dict[str, int]] = [{} for _ in rows]
    for row, name, parent in links:
        if index[id(parent)] >= index[id(row)]:
            raise ValueError("a row can only be linked to a row inserted before it")
        linked[index[id(row)]][row._meta.get_field(name).attname] = index[id(parent)]
    if connection.vendor != "postgresql":  # SQLite's WITH takes no INSERT: one at a time
        _insert_one_by_one(rows, linked)
        return
    shape = tuple(
        (type(row), tuple(sorted(links_of_row.items())))
        for row, links_of_row in zip(rows, linked, strict=True)
    )
    sql, fields = _statement(shape)
    params = []
    for row, row_fields in zip(rows, fields, strict=True):
        for field in row_fields:
            value = field.pre_save(row, True)
            params.append(field.get_db_prep_save(value, connection))
    with cursor() as insert:
        insert.execute(sql, params)
        ids = insert.fetchone()
    for row, new_id, links_of_row in zip(rows, ids, linked, strict=True):
        row.pk = new_id
        for attname, parent in links_of_row.items():
            setattr(row, attname, ids[parent])
        row._state.adding = False
        row._state.db = connection.alias


def _insert_one_by_one(rows: Sequence[Model], linked: list[dict[str, int]]) -> None:
    with transaction.atomic(savepoint=False):  # all or nothing, as the one statement would be
        for row, links_of_row in zip(rows, linked, strict=True):
            for attname, parent in links_of_row.items():
                setattr(row, attname, rows[parent].pk)
            row.save(force_insert=True)


@cache
def _statement(shape: tuple) -> tuple[str, list[list[Field]]]:
    """The statement for rows of these models with these links, and the fields whose values
    it takes, row by row."""
    quote = connection.ops.quote_name
    parts, all_fields = [], []
    for position, (model, links_of_row) in enumerate(shape):
        parents = dict(links_of_row)
        columns, values, fields = [], [], []
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            columns.append(quote(field.column))
            if field.attname in parents:
                values.append(f"(SELECT id FROM r{parents[field.attname]})")  # noqa: S608
            else:
                values.append("%s")
                fields.append(field)
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"  # noqa: S608 (model tables)
        parts.append(f"r{position} AS ({insert} RETURNING {pk} AS id)")
        all_fields.append(fields)
    ids = ", ".join(f"(SELECT id FROM r{position})" for position in range(len(shape)))  # noqa: S608
    return f"WITH {', '.join(parts)} SELECT {ids}", all_fields


def select_list(model: type[Model], alias: str) -> str:
    """The columns of `model`'s concrete fields, for a hand-written SELECT that `load_row`
    turns back into an instance."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def load_row(model: type[Model], values: Sequence) -> Model:
    """An instance of `model` from the values of its `select_list`, as the ORM loads one."""
    values = list(values)
    for position, column, converters in _converters(model):
        for converter in converters:
            values[position] = converter(values[position], column, connection)
    return model.from_db(connection.alias, _attnames(model), values)


def update_row(row: Model, fields: Sequence[str]) -> None:
    """save(update_fields=fields) for a row whose fields nothing else fills on save: one
    UPDATE by primary key, its text built once per model and fields."""
    sql, model_fields = _update_statement(type(row), tuple(fields))
    params = [
        field.get_db_prep_save(getattr(row, field.attname), connection) for field in model_fields
    ]
    with cursor() as update:
        update.execute(sql, [*params, row.pk])


@cache
def _converters(model: type[Model]) -> list[tuple[int, Any, list]]:
    """What the ORM's compiler applies to each column read (the backend's converters, then
    the field's), where there is any."""
    converters = []
    for position, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((position, column, found))
    return converters


@cache
def _attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@cache
def _update_statement(model: type[Model], names: tuple[str, ...]) -> tuple[str, list[Field]]:
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s", fields  # noqa: S608 (model table)
