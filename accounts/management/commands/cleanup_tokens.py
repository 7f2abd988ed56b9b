"""Delete expired refresh token records, and with them the sessions that have ended.

Also deletes throttle counters whose window has long passed.

Builds on simplejwt's `flushexpiredtokens`, which deletes expired OutstandingTokens (and their
BlacklistedTokens). A session's newest refresh token never outlives the session, so deleting it
(CASCADE) removes the sessions past their idle or absolute end; a revoked session stays on the
record (with its end reason) until its newest token would have expired.
Run it from cron, e.g. hourly: see the README.
"""

from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.management.commands.flushexpiredtokens import (
    Command as FlushExpiredTokensCommand,
)
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import throttle


class Command(FlushExpiredTokensCommand):
    help = (
        "Delete expired refresh token records, the sessions that ended with them, and old throttle counters."
    )

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        _, deleted = OutstandingToken.objects.filter(expires_at__lte=now).delete()
        counters = throttle.delete_expired(
            older_than=max(settings.LOGIN_FAILURE_WINDOW_SECONDS, settings.IP_FAILURE_WINDOW_SECONDS), now=now
        )
        self.stdout.write(
            "Deleted {tokens} expired refresh token record(s), {spent} spent-token record(s), "
            "{sessions} ended session(s) and {counters} old throttle counter(s).".format(
                tokens=deleted.get("token_blacklist.OutstandingToken", 0),
                spent=deleted.get("token_blacklist.BlacklistedToken", 0),
                sessions=deleted.get("accounts.Session", 0),
                counters=counters,
            )
        )
