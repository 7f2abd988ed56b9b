"""The record of refresh tokens: simplejwt's `token_blacklist` tables, read and written here only.

simplejwt's OutstandingToken (here `RefreshTokenRecord`) is the record of one refresh token: its
`jti`, the SHA-256 fingerprint of the token (never the token itself) and its dates. A
BlacklistedToken row marks a record spent. A Session (accounts.models) points at the record of its
newest token. The rule that decides every rotation lives in the jtis:

- every record of a session has a jti `<session id, hex>.<32 hex digits>` (`first_jti`,
  `successor_jti`): the prefix ties a record to its session without a column of its own
  (`of_session`);
- a session's first token gets random digits; a token's successor gets digits derived from its
  parent's jti, so two rotations of one parent insert the same jti and the unique index on
  OutstandingToken.jti lets only one commit (`advance`); a retry of the parent is recognised by
  the same derivation (`is_successor`);
- `advance` records the successor, moves the session to it and marks the parent spent, all or
  nothing, in hand-written statements (their table and column names are simplejwt's, checked by
  tests/test_refresh_records.py against its models);
- the session lookup of every request (`session_for_token`) joins the newest record in one
  compiled (and, on PostgreSQL, prepared) statement;
- cleanup (`delete_expired`, `delete_spent`) deletes records in batches, and with an expired
  newest record its session (CASCADE).
No HTTP here.
"""

import hashlib
import uuid
import weakref
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime

from django.conf import settings
from django.db import connections, transaction
from django.db.models import QuerySet
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

# simplejwt's OutstandingToken, under the name of what it is here: the record of one refresh token.
RefreshTokenRecord = OutstandingToken


def first_jti(session_id: uuid.UUID) -> str:
    """The jti of a session's first refresh token: its id and random digits."""
    return f"{session_id.hex}.{uuid.uuid4().hex}"


def successor_jti(session_id: uuid.UUID, parent_jti: str) -> str:
    """The jti of the one successor `parent_jti` can have: digits derived from the parent's."""
    return f"{session_id.hex}.{hashlib.sha256(f'successor:{parent_jti}'.encode()).hexdigest()[:32]}"


def is_successor(session_id: uuid.UUID, parent_jti: str, jti: str) -> bool:
    """Whether `jti` is the successor of `parent_jti` (a retry of the parent, within the reuse interval)."""
    return successor_jti(session_id, parent_jti) == jti


def record_first(
    *, user_id: int, jti: str, fingerprint: str, created_at: datetime, expires_at: datetime
) -> RefreshTokenRecord:
    """Record a session's first refresh token."""
    return RefreshTokenRecord.objects.create(
        user_id=user_id, jti=jti, token=fingerprint, created_at=created_at, expires_at=expires_at
    )


def of_session(session_id: uuid.UUID) -> QuerySet:
    """Every record of the session (their jti starts with its id), oldest first, each with its
    spent mark (`is_spent`)."""
    return (
        RefreshTokenRecord.objects.filter(jti__startswith=f"{session_id.hex}.")
        .select_related("blacklistedtoken")
        .order_by("created_at")
    )


def is_spent(record: RefreshTokenRecord) -> bool:
    """Whether the record (loaded by `of_session`) was spent by a rotation."""
    return hasattr(record, "blacklistedtoken")


def session_for_token(sessions, pk: uuid.UUID):
    """SessionQuerySet.for_token: see its docstring."""
    user_model = sessions.model._meta.get_field("user").related_model
    client_model = sessions.model._meta.get_field("client").related_model
    connection = connections[sessions.db]
    compiled = getattr(connection, "_accounts_for_token", None)
    if compiled is None:
        compiled = connection._accounts_for_token = _compile_for_token(sessions.model, connection)
    sql, columns, converters, compiler = compiled
    with connection.cursor() as cursor:
        cursor.execute(
            _prepared_for_token(connection, cursor, sql),
            [sessions.model._meta.pk.get_db_prep_value(pk, connection)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    if converters:
        row = next(iter(compiler.apply_converters([row], converters)))
    fields: dict[type, tuple[list[str], list]] = {}
    for column, value in zip(columns, row, strict=True):
        names, values = fields.setdefault(column.target.model, ([], []))
        names.append(column.target.attname)
        values.append(value)
    session = sessions.model.from_db(sessions.db, *fields[sessions.model])
    session.user = user_model.from_db(sessions.db, *fields[user_model])
    session.newest_record = RefreshTokenRecord.from_db(sessions.db, *fields[RefreshTokenRecord])
    client_names, client_values = fields[client_model]
    session.client = (
        client_model.from_db(sessions.db, client_names, client_values) if session.client_id else None
    )
    return session


def advance(
    db: str,
    *,
    session,
    parent_record_id: int,
    jti: str,
    fingerprint: str,
    issued_at: datetime,
    expires_at: datetime,
    user_agent: str,
    ip_address: str | None,
) -> RefreshTokenRecord | None:
    """The writes of one rotation, all or nothing: record the successor (whose unique jti is
    the decision: IntegrityError for a second successor), move the session to it unless it
    was revoked or moved meanwhile (then nothing is written and None is returned), and mark
    the parent spent.

    Hand-written statements instead of the ORM's create(), update() and create(), which it
    built anew on every rotation (0.5 ms of Python; see the README's benchmark section).
    On PostgreSQL one statement does all three (data-modifying WITH clauses), atomic on its
    own: with its session lookup, a rotation is two round trips instead of six (BEGIN, three
    statements, COMMIT). SQLite runs the three statements in a transaction.
    """
    connection = connections[db]
    fields = session._meta
    when = {
        name: fields.get_field("last_used_at").get_db_prep_value(value, connection)
        for name, value in (("issued", issued_at), ("expires", expires_at))
    }
    record = [session.user_id, jti, fingerprint, when["issued"], when["expires"]]
    move = [
        when["issued"],
        user_agent,
        fields.get_field("ip_address").get_db_prep_value(ip_address, connection),
    ]
    where = [fields.pk.get_db_prep_value(session.pk, connection), parent_record_id]
    # PostgreSQL's one statement is its own transaction in autocommit; inside a caller's
    # transaction, a savepoint keeps that transaction usable after an IntegrityError.
    atomic = connection.vendor != "postgresql" or not connection.get_autocommit()
    try:
        with transaction.atomic(using=db) if atomic else nullcontext():
            record_id = (
                _advance_postgresql(connection, record, move, where, parent_record_id, when["issued"])
                if connection.vendor == "postgresql"
                else _advance_in_steps(connection, record, move, where, parent_record_id, when["issued"])
            )
    except _NotMoved:
        return None
    return RefreshTokenRecord(
        id=record_id,
        user_id=session.user_id,
        jti=jti,
        token=fingerprint,
        created_at=issued_at,
        expires_at=expires_at,
    )


def delete_expired(*, now: datetime, batch: int) -> dict[str, int]:
    """Delete the records past their expiry, and with them the sessions whose newest they were;
    return {"records": n, "sessions": n}."""
    deleted = _delete_in_batches(
        lambda after: (
            RefreshTokenRecord.objects.filter(pk__gt=after, expires_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
    )
    return {"records": deleted[RefreshTokenRecord._meta.label], "sessions": deleted["accounts.Session"]}


def delete_spent(*, spent_before: datetime, batch: int) -> int:
    """Delete the records spent before `spent_before` (never a session's newest); return how many.

    Found through their spent marks (in their unique index's order), not by joining every record
    to the sessions: a spent record is never a session's newest, which the delete checks again
    on the batch alone."""
    deleted = _delete_in_batches(
        lambda after: (
            BlacklistedToken.objects.filter(token_id__gt=after, blacklisted_at__lte=spent_before)
            .order_by("token_id")
            .values_list("token_id", flat=True)[:batch]
        ),
        unless_newest=True,
    )
    return deleted[RefreshTokenRecord._meta.label]


def _delete_in_batches(next_batch: Callable[[int], list], *, unless_newest: bool = False) -> dict[str, int]:
    """Delete the records `next_batch(after)` names, a batch at a time, each batch in its own
    transaction; return the deleted rows per model (cascades included). `next_batch` gives the
    next record ids in ascending order after `after`, so the run reads each index once."""
    totals = {RefreshTokenRecord._meta.label: 0, "accounts.Session": 0, BlacklistedToken._meta.label: 0}
    after = 0
    while True:
        with transaction.atomic():
            # In primary key order from where the last batch ended: each batch reads on along the
            # primary key index, so the whole run reads the table once. (Without `after`, every
            # batch scanned the table again from its start: with millions of records, minutes.)
            ids = list(next_batch(after))
            if not ids:
                return totals
            records = RefreshTokenRecord.objects.filter(pk__in=ids)
            if unless_newest:
                records = records.filter(session__isnull=True)
            _, deleted = records.delete()
        after = ids[-1]
        for label, count in deleted.items():
            totals[label] = totals.get(label, 0) + count


class _NotMoved(Exception):
    """The session was revoked or moved on meanwhile: the rotation writes nothing."""


def _advance_postgresql(connection, record, move, where, parent_id, spent_at) -> int:
    with connection.cursor() as cursor:
        cursor.execute(ADVANCE, [*record, *where, *move, *where, parent_id, spent_at])
        successor_id, moved_id = cursor.fetchone()
        if moved_id is None:
            if successor_id is not None and connection.get_autocommit():
                # Revoked between the statement's check and its update: undo the record.
                cursor.execute(DELETE_SUCCESSOR, [successor_id])
            raise _NotMoved
    return moved_id


def _advance_in_steps(connection, record, move, where, parent_id, spent_at) -> int:
    with connection.cursor() as cursor:
        cursor.execute(RECORD_SUCCESSOR, record)
        record_id = cursor.fetchone()[0]
        cursor.execute(MOVE_SESSION, [record_id, *move, *where])
        if cursor.rowcount != 1:
            raise _NotMoved
        cursor.execute(MARK_SPENT, [parent_id, spent_at])
    return record_id


# PostgreSQL: the three writes of a rotation in one statement. The successor is inserted only
# while the session still points at the parent; the session moves only if the successor was
# inserted; the parent is marked spent only if the session moved.
ADVANCE = """
WITH successor AS (
    INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at)
    SELECT %s, %s, %s, %s, %s
    WHERE EXISTS (
        SELECT 1 FROM accounts_session WHERE id = %s AND newest_record_id = %s AND revoked_at IS NULL
    )
    RETURNING id
), moved AS (
    UPDATE accounts_session
    SET newest_record_id = successor.id, last_used_at = %s, user_agent = %s, ip_address = %s
    FROM successor
    WHERE accounts_session.id = %s AND accounts_session.newest_record_id = %s
      AND accounts_session.revoked_at IS NULL
    RETURNING successor.id
), spent AS (
    INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
    SELECT %s, %s FROM moved
)
SELECT (SELECT id FROM successor), (SELECT id FROM moved)
"""
# SQLite (3.35 and later, for RETURNING): the same writes, one statement each, in a transaction.
RECORD_SUCCESSOR = (
    "INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at) "
    "VALUES (%s, %s, %s, %s, %s) RETURNING id"
)
MOVE_SESSION = (
    "UPDATE accounts_session SET newest_record_id = %s, last_used_at = %s, user_agent = %s, ip_address = %s "
    "WHERE id = %s AND newest_record_id = %s AND revoked_at IS NULL"
)
MARK_SPENT = "INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at) VALUES (%s, %s)"
# PostgreSQL: undo a successor recorded for a session revoked meanwhile.
DELETE_SUCCESSOR = "DELETE FROM token_blacklist_outstandingtoken WHERE id = %s"


FOR_TOKEN_STATEMENT = "accounts_session_for_token"
# The server connections (psycopg connections) on which the statement is prepared.
_prepared_on: "weakref.WeakSet" = weakref.WeakSet()


def _prepared_for_token(connection, cursor, sql: str) -> str:
    """The SQL to run for SessionQuerySet.for_token: EXECUTE of the prepared statement (PREPAREd
    first on a new server connection) on PostgreSQL, else the compiled query itself."""
    if connection.vendor != "postgresql" or settings.DATABASE_TRANSACTION_POOLING:
        return sql
    if connection.connection not in _prepared_on:
        cursor.execute(f"PREPARE {FOR_TOKEN_STATEMENT} AS {sql.replace('%s', '$1')}")
        _prepared_on.add(connection.connection)
    return f"EXECUTE {FOR_TOKEN_STATEMENT} (%s)"


def _compile_for_token(model, connection) -> tuple:
    query = model.objects.select_related("user", "newest_record", "client").filter(pk=uuid.UUID(int=0)).query
    compiler = query.get_compiler(connection=connection)
    sql, _ = compiler.as_sql()
    columns = [column for column, _, _ in compiler.select]
    return sql, columns, compiler.get_converters(columns), compiler
