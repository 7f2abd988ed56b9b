"""Email goes out from the task queue (django-tasks' database backend, `manage.py db_worker`),
never from a request: a failed attempt is a failed task (kept, with its traceback, for the
admin's task list) and a new one after a back-off that doubles, until EMAIL_SEND_ATTEMPTS; an
SMTP server that is down for a while loses nothing."""

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.selfservice import mail
from tests.conftest import Inbox, free_port, other_process_environment, run_queued_tasks, start_smtp

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def smtp_down(settings):
    """Email settings pointing at a loopback port where nothing listens (yet)."""
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    return port


def test_a_failed_attempt_is_kept_as_a_failed_task_and_retried_after_a_back_off(user, smtp_down, settings):
    settings.EMAIL_RETRY_SECONDS = 30
    mail.send("password_changed", user_id=user.pk)
    before = timezone.now()

    run_queued_tasks()

    failed = DBTaskResult.objects.get(status="FAILED")
    assert "ConnectionRefusedError" in failed.traceback or "SMTP" in failed.traceback
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.args_kwargs["args"][:2] == ["password_changed", 2]
    assert before + timedelta(seconds=29) <= retry.run_after <= timezone.now() + timedelta(seconds=31)


def test_the_back_off_doubles_and_stops_after_email_send_attempts(user, smtp_down, settings, caplog):
    settings.EMAIL_SEND_ATTEMPTS = 3
    settings.EMAIL_RETRY_SECONDS = 30
    delays = []
    for attempt in (1, 2, 3):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
        if attempt == 1:
            mail.send("password_changed", user_id=user.pk)
        run_queued_tasks()
        retry = DBTaskResult.objects.filter(status="READY").first()
        # From when the failed attempt queued it (a slow machine's attempt takes its time).
        delays.append(round((retry.run_after - retry.enqueued_at).total_seconds()) if retry else None)

    assert delays == [30, 60, None]
    assert DBTaskResult.objects.filter(status="FAILED").count() == 3
    assert "not delivered after 3 attempts" in caplog.text


def test_nothing_is_sent_when_there_is_nothing_left_to_say(user, mailbox):
    mail.send("confirm_email", user_id=user.pk)
    user.email_verified = True
    user.save(update_fields=["email_verified"])

    run_queued_tasks()

    assert mailbox.messages == []
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_an_email_asked_for_in_a_transaction_that_rolls_back_is_never_sent(user, mailbox):
    from django.db import transaction

    def change_that_fails():
        with transaction.atomic():
            mail.send("password_changed", user_id=user.pk)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()

    run_queued_tasks()
    assert mailbox.messages == []


def test_every_email_arrives_although_the_smtp_server_was_down_for_a_while(transactional_db, user_factory):
    """The real worker (`manage.py db_worker`, its own process) against an SMTP port that refuses
    for the first seconds, then answers."""
    users = [user_factory() for _ in range(3)]
    for user in users:
        mail.send("password_changed", user_id=user.pk)
    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.2"],
        cwd=PROJECT,
        env=other_process_environment(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port, EMAIL_RETRY_SECONDS=1),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    inbox = Inbox()
    controller = None
    try:
        deadline = time.monotonic() + 30
        while DBTaskResult.objects.filter(status="FAILED").count() < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert DBTaskResult.objects.filter(status="FAILED").count() >= 3  # each first attempt failed
        controller = start_smtp(inbox, port)
        while len(inbox.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
        if controller is not None:
            controller.stop()

    assert sorted(recipients[0] for recipients, _ in inbox.messages) == sorted(user.email for user in users)
