"""Delete expired refresh token records, and with them the sessions that have ended.

Builds on simplejwt's `flushexpiredtokens`, which deletes expired OutstandingTokens (and their
BlacklistedTokens). A session's newest refresh token never outlives the session, so deleting it
(CASCADE) removes the sessions past their idle or absolute end; a revoked session stays on the
record (with its end reason) until its newest token would have expired.
Run it from cron, e.g. hourly: see the README.
"""

from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.management.commands.flushexpiredtokens import (
    Command as FlushExpiredTokensCommand,
)
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken


class Command(FlushExpiredTokensCommand):
    help = "Delete expired refresh token records and the sessions that ended with them."

    def handle(self, *args, **options) -> None:
        _, deleted = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
        self.stdout.write(
            "Deleted {tokens} expired refresh token record(s), {spent} spent-token record(s) "
            "and {sessions} ended session(s).".format(
                tokens=deleted.get("token_blacklist.OutstandingToken", 0),
                spent=deleted.get("token_blacklist.BlacklistedToken", 0),
                sessions=deleted.get("accounts.Session", 0),
            )
        )
