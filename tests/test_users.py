"""The user model, and what password, email and status changes do to sessions."""

from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import IntegrityError, transaction
from django.db.models import Value

from accounts import services
from accounts.callers import Caller
from accounts.errors import InvalidCredentials
from accounts.models import Session, User


def test_create_user_works_with_username_email_and_password(db):
    user = User.objects.create_user(username="bob", email="bob@example.com", password="pw")

    assert user.check_password("pw")
    assert user.is_active


@pytest.mark.parametrize("email", ["", "   ", None])
def test_create_user_refuses_an_empty_email(db, email):
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user(username="bob", email=email, password="pw")


def test_email_is_unique_whatever_its_case(user_factory):
    user_factory(email="Bob@Example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        user_factory(email="bob@example.COM")


def test_username_is_unique_whatever_its_case(user_factory):
    user_factory(username="Bob")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="bob", email="other-bob@example.com", password="x")
    assert User.objects.count() == 1


def test_the_database_refuses_an_empty_email(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(email="")


def test_username_is_unique(user_factory):
    user_factory(username="bob")

    with pytest.raises(IntegrityError), transaction.atomic():
        user_factory(username="bob", email="other@example.com")


def test_setting_a_password_revokes_every_session_of_the_user(login, user, user_factory):
    login(user)
    login(user)
    other = user_factory()
    login(other)

    user.set_password("correct horse battery staple")  # even the same value
    user.save()

    assert set(Session.objects.filter(user=user).values_list("end_reason", flat=True)) == {"password_changed"}
    assert Session.objects.get(user=other).revoked_at is None


def test_a_save_without_a_password_change_revokes_nothing(login, user):
    login(user)

    user.full_name = "Johnny"
    user.save()

    assert Session.objects.get().revoked_at is None


def test_the_rehash_of_a_password_at_login_revokes_nothing(api_client, login, user, settings):
    settings.PASSWORD_HASHERS = ["tests.hashers.FastPBKDF2PasswordHasher"]
    old_hash = PBKDF2PasswordHasher().encode("correct horse battery staple", "somesalt", iterations=1)
    User.objects.filter(pk=user.pk).update(password=old_hash)
    first = login(user)

    login(user)  # the first login re-hashed the password with the current iterations

    user.refresh_from_db()
    assert user.password != old_hash
    assert not Session.objects.filter(revoked_at__isnull=False).exists()
    assert (
        api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Bearer {first['access_token']}").status_code
        == HTTPStatus.OK
    )


def test_disabling_a_user_revokes_its_sessions_for_good(login, user, me):
    tokens = login(user)
    user.is_active = False
    user.save()

    user.is_active = True
    user.save()

    assert Session.objects.get().end_reason == "user_disabled"
    assert me(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


def test_deleting_a_user_deletes_its_sessions(login, user):
    login(user)

    user.delete()

    assert not Session.objects.exists()


def test_full_name_falls_back_to_the_username(user_factory):
    assert user_factory(username="bob", full_name="").get_full_name() == "bob"


def test_the_database_refuses_an_email_of_spaces(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(email="   ")


def test_making_the_password_unusable_revokes_every_session(login, user):
    login(user)

    user.set_unusable_password()
    user.save()

    assert Session.objects.get().end_reason == "password_changed"


def test_a_login_whose_password_changed_meanwhile_starts_no_session(user):
    """authenticate() checked the old password; the change committed before the session insert."""
    checked = User.objects.get(pk=user.pk)
    user.set_password("changed meanwhile")
    user.save()

    with pytest.raises(InvalidCredentials):
        services.session_start(user=checked, caller=Caller(), grant_type=Session.Grant.PASSWORD)

    assert not Session.objects.exists()


# --- the password rule covers QuerySet.update too ------------------------------------------------


def test_updating_the_password_through_a_queryset_revokes_that_users_sessions_only(
    login, user, user_factory, caplog
):
    other = user_factory(username="other")
    login(user)
    login(other)

    User.objects.filter(pk=user.pk).update(password=PBKDF2PasswordHasher().encode("new pass", "salt"))

    assert Session.objects.get(user=user).end_reason == Session.EndReason.PASSWORD_CHANGED
    assert Session.objects.get(user=other).revoked_at is None
    assert [r.audit.get("user") for r in caplog.records if r.getMessage() == "session revoked"] == [user.pk]


def test_disabling_users_through_a_queryset_revokes_their_sessions(login, user, user_factory):
    other = user_factory(username="other")
    login(user)
    login(other)

    User.objects.filter(username__in=["other", user.username]).update(is_active=False)

    assert set(Session.objects.values_list("end_reason", flat=True)) == {Session.EndReason.USER_DISABLED}


def test_a_queryset_update_of_other_fields_revokes_nothing(login, user):
    login(user)

    User.objects.filter(pk=user.pk).update(full_name="Renamed", is_active=True)

    assert Session.objects.get().revoked_at is None


@pytest.mark.parametrize(
    "disable",
    [
        pytest.param(lambda users: users.update(is_active=0), id="update(is_active=0)"),
        pytest.param(lambda users: users.update(is_active=Value(False)), id="an expression"),
        pytest.param(
            lambda users: User.objects.bulk_update(
                [setattr(u, "is_active", False) or u for u in users], ["is_active"]
            ),
            id="bulk_update",
        ),
    ],
)
def test_every_way_of_disabling_users_in_bulk_revokes_their_sessions(login, user, disable):
    login(user)

    disable(User.objects.filter(pk=user.pk))

    assert Session.objects.get().end_reason == Session.EndReason.USER_DISABLED


def test_a_bulk_update_of_passwords_revokes_those_users_sessions(login, user):
    login(user)
    user.password = PBKDF2PasswordHasher().encode("new pass", "salt")

    User.objects.bulk_update([user], ["password"])

    assert Session.objects.get().end_reason == Session.EndReason.PASSWORD_CHANGED
