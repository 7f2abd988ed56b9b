"""`make bench --populate N`: a database grown to N sessions, as a busy service's is.

Run inside `manage.py shell` (bench/run.py does), on PostgreSQL. Fills, with set-based INSERTs:
- N active sessions of other users' kind (all of the bench user's database neighbours), each
  with a spent ancestor refresh token record (blacklisted) and a newest one: 2N records;
- N ended sessions whose newest record has expired: what `cleanup_tokens` deletes (N records).
So 3N refresh token records, 2N sessions and N blacklist rows. The sessions belong to one filler
user (SESSIONS_PER_USER_MAX limits new logins, not rows written here), never the bench user.
"""

from django.db import connection, transaction

from accounts.models import User

FILLER = "bench-filler"


def populate(n: int) -> dict:
    """Add the rows above; return what was added."""
    user, _ = User.objects.get_or_create(username=FILLER, defaults={"email": "filler@bench.invalid"})
    with transaction.atomic(), connection.cursor() as cursor:
        for kind, created, expires in (
            ("a", "now() - interval '2 hours'", "now() + interval '7 days'"),  # spent ancestors
            ("b", "now() - interval '1 hour'", "now() + interval '7 days'"),  # newest records
            ("x", "now() - interval '40 days'", "now() - interval '1 day'"),  # expired records
        ):
            cursor.execute(
                f"""
                INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at)
                SELECT %s, replace(md5(%s || g)::uuid::text, '-', '') || '.' || md5(%s || g),
                       md5('token' || %s || g), {created}, {expires}
                FROM generate_series(1, %s) AS g
                """,  # noqa: S608 (constant SQL fragments above, values as parameters)
                [user.pk, "s" if kind != "x" else "e", kind, kind, n],
            )
        cursor.execute(
            """
            INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
            SELECT o.id, o.created_at + interval '1 hour'
            FROM generate_series(1, %s) AS g
            JOIN token_blacklist_outstandingtoken o
              ON o.jti = replace(md5('s' || g)::uuid::text, '-', '') || '.' || md5('a' || g)
            """,
            [n],
        )
        for prefix, kind, revoked in (("s", "b", "NULL"), ("e", "x", "now() - interval '2 days'")):
            cursor.execute(
                f"""
                INSERT INTO accounts_session (id, user_id, newest_record_id, created_at, expires_at,
                    last_used_at, user_agent, ip_address, client_id, scope, nonce, auth_time,
                    revoked_at, end_reason)
                SELECT md5(%s || g)::uuid, %s, o.id, o.created_at, o.created_at + interval '30 days',
                       o.created_at, 'bench filler', '192.0.2.1', NULL, '', '', o.created_at,
                       {revoked}, ''
                FROM generate_series(1, %s) AS g
                JOIN token_blacklist_outstandingtoken o
                  ON o.jti = replace(md5(%s || g)::uuid::text, '-', '') || '.' || md5(%s || g)
                """,  # noqa: S608
                [prefix, user.pk, n, prefix, kind],
            )
        cursor.execute("ANALYZE")
    return {"sessions": 2 * n, "refresh_token_records": 3 * n, "blacklisted": n}
