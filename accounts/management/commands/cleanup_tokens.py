"""Delete what nothing needs any more: ended sessions, spent refresh token records, old counters
and signing keys whose tokens have all expired. Run it from cron, e.g. hourly (see the README).

- A session's newest record never outlives the session, so deleting the expired records removes
  the sessions past their idle or absolute end (CASCADE); a revoked session stays on the record
  (with its end reason) until its newest token would have expired.
- A spent record (one marked spent) is read by nothing: reuse detection finds the
  session by the token's `sid` and compares with the newest record. It is deleted once it has been
  spent longer than the reuse interval.
The records are accounts.refresh_records'. Deletes go in batches of BATCH rows, each its own short transaction, so rotations go on meanwhile;
memory is that of one batch whatever the number of rows.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import clock, refresh_records
from accounts.devices import flow as device_flow
from accounts.federation import exchange
from accounts.keys import lifecycle
from accounts.machines import tokens as client_tokens
from accounts.oauth import codes, pushed
from accounts.throttling import counters, policy

BATCH = 1000


class Command(BaseCommand):
    help = (
        "Delete ended sessions, spent refresh token records, old throttle counters, expired signing keys "
        "expired authorization codes, the records of exchanged ID tokens and of client credentials tokens "
        "past their expiry, expired device authorizations and pushed authorization requests."
    )

    def handle(self, *args, **options) -> None:
        now = clock.now()
        expired = refresh_records.delete_expired(now=now, batch=BATCH)
        spent_before = now - timedelta(seconds=settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS)
        spent = refresh_records.delete_spent(spent_before=spent_before, batch=BATCH)
        old_counters = counters.delete_expired(older_than=policy.counter_windows(), now=now)
        keys = lifecycle.purge(now=now)
        expired_codes = codes.delete_expired(now=now)
        exchanged = exchange.delete_expired(now=now)
        client_expired = client_tokens.delete_expired(now=now)
        devices = device_flow.delete_expired(now=now)
        pushed_requests = pushed.delete_expired(now=now)
        self.stdout.write(
            f"Deleted {expired['records']} expired refresh token record(s) and with them "
            f"{expired['sessions']} ended session(s), {spent} spent "
            f"record(s), {old_counters} old throttle counter(s), {keys} expired signing key(s) and "
            f"{expired_codes} expired authorization code(s), {exchanged} expired exchanged ID token record(s) "
            f"{client_expired} expired client credentials token record(s) "
            f"{devices} expired device authorization(s) and {pushed_requests} expired pushed request(s)."
        )
