"""python manage.py seed_demo_users."""

from http import HTTPStatus

from django.core.management import call_command

from accounts.models import User


def test_seed_creates_johndoe_active_and_alice_disabled(db):
    call_command("seed_demo_users", stdout=None)

    john = User.objects.get(username="johndoe")
    alice = User.objects.get(username="alice")
    assert (john.email, john.full_name, john.is_active) == ("johndoe@example.com", "John Doe", True)
    assert (alice.email, alice.full_name, alice.is_active) == ("alice@example.com", "Alice Wonderson", False)
    assert john.check_password("secret")
    assert alice.check_password("secret2")


def test_seed_is_idempotent_and_leaves_existing_users_untouched(db):
    call_command("seed_demo_users")
    User.objects.filter(username="johndoe").update(full_name="Changed")
    User.objects.get(username="alice").delete()

    call_command("seed_demo_users")

    assert User.objects.count() == 2
    assert User.objects.get(username="johndoe").full_name == "Changed"
    assert User.objects.get(username="alice").full_name == "Alice Wonderson"


def test_demo_users_behave_as_the_contract_says(api_client, db):
    call_command("seed_demo_users")

    john = api_client.post("/login", {"username": "johndoe", "password": "secret"})
    alice = api_client.post("/login", {"username": "alice", "password": "secret2"})

    assert john.status_code == HTTPStatus.OK
    assert alice.status_code == HTTPStatus.UNAUTHORIZED
