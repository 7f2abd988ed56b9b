"""Delete what nothing needs any more: ended sessions, spent refresh token records, old counters
and signing keys whose tokens have all expired. Run it from cron, e.g. hourly (see the README).

- A session's newest record never outlives the session, so deleting the expired records removes
  the sessions past their idle or absolute end (CASCADE); a revoked session stays on the record
  (with its end reason) until its newest token would have expired.
- A spent record (one with a BlacklistedToken) is read by nothing: reuse detection finds the
  session by the token's `sid` and compares with the newest record. It is deleted once it has been
  spent longer than the reuse interval.
Deletes go in batches of BATCH rows, each its own short transaction, so rotations go on meanwhile;
memory is that of one batch whatever the number of rows.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.federation import exchange
from accounts.keys import lifecycle
from accounts.models import RefreshTokenRecord
from accounts.oauth import codes
from accounts.throttling import counters, policy

BATCH = 1000


class Command(BaseCommand):
    help = (
        "Delete ended sessions, spent refresh token records, old throttle counters, expired signing keys "
        "expired authorization codes and the records of exchanged ID tokens past their expiry."
    )

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        expired = _delete_in_batches(
            lambda after: (
                RefreshTokenRecord.objects.filter(pk__gt=after, expires_at__lte=now)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
        )
        spent_before = now - timedelta(seconds=settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS)
        # Found through their blacklist rows (in their unique index's order), not by joining
        # every record to the sessions: a spent record is never a session's newest, which the
        # delete checks again on the batch alone.
        spent = _delete_in_batches(
            lambda after: (
                BlacklistedToken.objects.filter(token_id__gt=after, blacklisted_at__lte=spent_before)
                .order_by("token_id")
                .values_list("token_id", flat=True)[:BATCH]
            ),
            unless_newest=True,
        )
        old_counters = counters.delete_expired(older_than=policy.counter_windows(), now=now)
        keys = lifecycle.purge(now=now)
        expired_codes = codes.delete_expired(now=now)
        exchanged = exchange.delete_expired(now=now)
        self.stdout.write(
            f"Deleted {expired['token_blacklist.OutstandingToken']} expired refresh token record(s) and with them "
            f"{expired['accounts.Session']} ended session(s), {spent['token_blacklist.OutstandingToken']} spent "
            f"record(s), {old_counters} old throttle counter(s), {keys} expired signing key(s) and "
            f"{expired_codes} expired authorization code(s) and {exchanged} expired exchanged ID token record(s)."
        )


def _delete_in_batches(next_batch, *, unless_newest: bool = False) -> dict[str, int]:
    """Delete the records `next_batch(after)` names, BATCH at a time, each batch in its own
    transaction; return the deleted rows per model (cascades included). `next_batch` gives the
    next record ids in ascending order after `after`, so the run reads each index once."""
    totals = {
        "token_blacklist.OutstandingToken": 0,
        "accounts.Session": 0,
        "token_blacklist.BlacklistedToken": 0,
    }
    after = 0
    while True:
        with transaction.atomic():
            # In primary key order from where the last batch ended: each batch reads on along the
            # primary key index, so the whole run reads the table once. (Without `after`, every
            # batch scanned the table again from its start: with millions of records, minutes.)
            batch = list(next_batch(after))
            if not batch:
                return totals
            records = RefreshTokenRecord.objects.filter(pk__in=batch)
            if unless_newest:
                records = records.filter(session__isnull=True)
            _, deleted = records.delete()
        after = batch[-1]
        for label, count in deleted.items():
            totals[label] = totals.get(label, 0) + count
