"""A recovery code, a TOTP code and a passkey's answer presented by concurrent requests: each
works exactly once, decided by PostgreSQL (a conditional UPDATE, or the replay cache's INSERT);
cloned passkeys showing one signature counter: one wins at most."""

import json
import threading

import pyotp
import pytest

from accounts import clock
from accounts.mfa import factors, passkeys
from accounts.mfa.models import Passkey
from tests.authenticator import Authenticator
from tests.test_accounts_concurrency import at_once

pytestmark = pytest.mark.postgres


@pytest.fixture
def enrolled(transactional_db, user_factory):
    user = user_factory()
    factors.totp_begin(user)
    totp = pyotp.TOTP(factors.enrolment(user).secret)
    codes = factors.totp_confirm(user, totp.at(clock.now().timestamp() - 30))  # the previous step
    return user, totp, codes


def test_a_recovery_code_presented_at_once_is_spent_once(enrolled):
    user, _, codes = enrolled

    results = at_once(lambda: factors.verify(user, codes[0]))

    assert sorted(results) == [False] * 7 + [True], results
    assert factors.recovery_codes_left(user) == 9


def test_a_totp_code_presented_at_once_is_accepted_once(enrolled):
    user, totp, _ = enrolled
    code = totp.at(clock.now())

    results = at_once(lambda: factors.verify(user, code))

    assert sorted(results) == [False] * 7 + [True], results


# --- passkeys ------------------------------------------------------------------------------------


@pytest.fixture
def passkey_user(request, transactional_db, user_factory, settings):
    """A user with one passkey: (the user, its authenticator), which keeps a counter unless the
    test's parameter says not (as synced passkeys: only the replay cache stops a replay)."""
    settings.PASSKEY_RP_ID, settings.PASSKEY_ORIGINS = "localhost", ["http://localhost:8000"]
    user = user_factory()
    authenticator = Authenticator(counting=getattr(request, "param", True))
    ceremony = passkeys.registration_options(user)
    passkeys.register(
        user,
        name="Laptop",
        answer=authenticator.create(json.loads(ceremony.options_json)),
        challenge=ceremony.challenge,
        started=ceremony.started,
    )
    return user, authenticator


def signed_in(answer: str, ceremony) -> bool:
    try:
        passkeys.authenticate(answer, challenge=ceremony.challenge, started=ceremony.started)
    except passkeys.PasskeyRefused:
        return False
    return True


@pytest.mark.parametrize("passkey_user", [False], ids=["no counter"], indirect=True)
def test_one_passkey_answer_presented_at_once_signs_in_once(passkey_user):
    _, authenticator = passkey_user
    ceremony = passkeys.authentication_options()
    answer = authenticator.get(json.loads(ceremony.options_json))

    results = at_once(lambda: signed_in(answer, ceremony))

    assert sorted(results) == [False] * 7 + [True], results


def test_a_cloned_authenticator_racing_the_original_with_one_counter_wins_at_most_once(passkey_user):
    _, authenticator = passkey_user
    clones = [authenticator.clone() for _ in range(8)]
    ceremonies = [passkeys.authentication_options() for _ in clones]  # a challenge each
    answers = [clone.get(json.loads(c.options_json)) for clone, c in zip(clones, ceremonies, strict=True)]
    turn = iter(range(8))
    lock = threading.Lock()

    def one() -> bool:
        with lock:
            index = next(turn)
        return signed_in(answers[index], ceremonies[index])  # each shows counter 1

    results = at_once(one)

    assert sorted(results) == [False] * 7 + [True], results
    assert Passkey.objects.get().sign_count == 1
