"""A recovery code and a TOTP code presented by concurrent requests: each works exactly once,
decided by PostgreSQL (one conditional UPDATE each)."""

import pyotp
import pytest

from accounts import clock
from accounts.mfa import factors
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
