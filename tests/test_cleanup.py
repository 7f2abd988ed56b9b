"""python manage.py cleanup_tokens."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services
from accounts.callers import Caller
from accounts.models import Session


def test_cleanup_deletes_expired_records_and_ended_sessions_and_keeps_live_ones(user, refresh, settings):
    settings.REFRESH_TOKEN_LIFETIME_SECONDS = 600
    old = services.session_start(
        user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD, now=timezone.now() - timedelta(hours=1)
    )
    live = services.session_start(user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD)
    rotated = services.refresh_token_rotate(refresh_token=live.refresh_token, caller=Caller())
    OutstandingToken.objects.filter(jti=services.RefreshToken(live.refresh_token)["jti"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    out = StringIO()

    call_command("cleanup_tokens", stdout=out)

    assert list(Session.objects.values_list("pk", flat=True)) == [rotated.session.pk]
    assert OutstandingToken.objects.count() == 1
    assert not BlacklistedToken.objects.exists()
    assert "1 ended session" in out.getvalue()
    assert not Session.objects.filter(pk=old.session.pk).exists()
    assert refresh(rotated.refresh_token).status_code == 200


def test_cleanup_goes_through_every_batch_and_keeps_the_live_sessions_between_them(user, monkeypatch):
    from accounts.management.commands import cleanup_tokens

    monkeypatch.setattr(cleanup_tokens, "BATCH", 2)
    long_ago = timezone.now() - timedelta(days=40)
    ended, live = [], []
    for index in range(7):  # ended and live sessions interleaved in primary key order
        if index % 2:
            live.append(
                services.session_start(
                    user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD
                ).session.pk
            )
        else:
            ended.append(
                services.session_start(
                    user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD, now=long_ago
                ).session.pk
            )

    call_command("cleanup_tokens", stdout=StringIO())

    assert sorted(Session.objects.values_list("pk", flat=True)) == sorted(live)
    assert OutstandingToken.objects.count() == len(live)
