"""The record of refresh tokens (accounts.refresh_records): the one module on simplejwt's
token_blacklist tables. Its schema assumptions, and the jti rule that decides rotations."""

import re
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import refresh_records
from accounts.models import Session

STATEMENTS = {
    "ADVANCE": refresh_records.ADVANCE,
    "RECORD_SUCCESSOR": refresh_records.RECORD_SUCCESSOR,
    "MOVE_SESSION": refresh_records.MOVE_SESSION,
    "MARK_SPENT": refresh_records.MARK_SPENT,
    "DELETE_SUCCESSOR": refresh_records.DELETE_SUCCESSOR,
}


def columns_of(model) -> set[str]:
    return {field.column for field in model._meta.concrete_fields}


@pytest.mark.parametrize("name", STATEMENTS)
def test_the_hand_written_statements_name_simplejwts_tables_and_columns(name):
    sql = STATEMENTS[name]
    tables = {OutstandingToken._meta.db_table, BlacklistedToken._meta.db_table, Session._meta.db_table}

    for table, columns in re.findall(r"INSERT INTO (\w+) \(([^)]*)\)", sql):
        assert table in tables
        model = {m._meta.db_table: m for m in (OutstandingToken, BlacklistedToken)}[table]
        assert {column.strip() for column in columns.split(",")} <= columns_of(model)
    for table in re.findall(r"(?:UPDATE|FROM|INSERT INTO) (\w+)", sql):
        assert table in tables | {"successor", "moved"}, table
    for assignment in re.findall(r"SET (.*?)(?:\n| FROM| WHERE)", sql):
        assert {part.split("=")[0].strip() for part in assignment.split(",")} <= columns_of(Session)
    # Every column a condition or a RETURNING names, qualified or not, is one of those tables'.
    every_column = columns_of(OutstandingToken) | columns_of(BlacklistedToken) | columns_of(Session)
    for condition in re.findall(r"(?:WHERE|AND|RETURNING) ([\w.]+)(?= =| IS|\n|$)", sql):
        table, _, column = condition.rpartition(".")
        if table in ("successor", "moved"):
            continue
        assert column in (columns_of(Session) if table == Session._meta.db_table else every_column), condition


def test_the_spent_mark_is_one_row_per_record_and_the_record_table_is_simplejwts():
    assert refresh_records.RefreshTokenRecord is OutstandingToken
    token = BlacklistedToken._meta.get_field("token")
    assert token.one_to_one
    assert token.related_model is OutstandingToken
    assert token.column == "token_id"


def test_a_jti_is_unique_in_the_record_table(db, user):
    now = timezone.now()
    jti = refresh_records.first_jti(uuid.uuid4())
    record = dict(user_id=user.pk, jti=jti, fingerprint="a" * 64, created_at=now, expires_at=now)
    refresh_records.record_first(**record)

    with pytest.raises(IntegrityError), transaction.atomic():
        refresh_records.record_first(**{**record, "fingerprint": "b" * 64})


def test_a_tokens_successor_jti_is_one_and_the_same_and_names_its_session():
    session_id = uuid.uuid4()
    parent = refresh_records.first_jti(session_id)

    successor = refresh_records.successor_jti(session_id, parent)

    assert successor == refresh_records.successor_jti(session_id, parent)
    assert successor.startswith(f"{session_id.hex}.")
    assert re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{32}", successor)
    assert refresh_records.is_successor(session_id, parent, successor)
    assert not refresh_records.is_successor(session_id, successor, parent)
    assert refresh_records.first_jti(session_id) != parent  # a first jti is random


def test_a_sessions_records_are_found_by_their_prefix_oldest_first_with_their_spent_marks(
    db, login, refresh, user
):
    first = login(user)
    refresh(first["refresh_token"])
    login(user)  # another session's records are not this one's
    session = Session.objects.earliest("created_at")

    records = list(session.refresh_token_records())

    assert len(records) == 2
    assert [refresh_records.is_spent(record) for record in records] == [True, False]
    assert records[-1].pk == session.newest_record_id
