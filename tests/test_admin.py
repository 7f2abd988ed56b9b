"""The Django admin: users, sessions and signing keys."""

import html
import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.contrib.admin.utils import unquote
from django.utils import timezone

from accounts.keys import material, ring
from accounts.models import RefreshTokenRecord, Session, SigningKey


@pytest.fixture
def admin_client(client, user_factory):
    client.force_login(user_factory(username="admin", is_staff=True, is_superuser=True))
    return client


def shown(response, column: str) -> dict[str, str]:
    """What a changelist shows in `column`, by the primary key of each row (from its change link)."""
    assert response.status_code == HTTPStatus.OK
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", response.text, flags=re.DOTALL):
        link = re.search(r'href="/admin/accounts/\w+/([^/"]+)/change/[^"]*"', row)
        cell = re.search(rf'<t[dh] class="field-{column}[^"]*">(.*?)</t[dh]>', row, flags=re.DOTALL)
        if link and cell:
            pk = unquote(html.unescape(link.group(1)))
            rows[pk] = html.unescape(re.sub(r"<[^>]+>", "", cell.group(1))).strip()
    return rows


def test_users_are_searchable_by_username_and_email(admin_client, user_factory):
    user_factory(username="findme", email="needle@example.com")
    user_factory(username="other")

    by_email = admin_client.get("/admin/accounts/user/", {"q": "needle"})
    by_username = admin_client.get("/admin/accounts/user/", {"q": "findme"})

    assert by_email.status_code == HTTPStatus.OK
    assert "findme" in by_email.text
    assert "other" not in by_email.text
    assert "findme" in by_username.text


def test_users_can_be_filtered_by_active(admin_client, user_factory):
    user_factory(username="sleeper", is_active=False)

    response = admin_client.get("/admin/accounts/user/", {"is_active__exact": "0"})

    assert "sleeper" in response.text


def test_admin_can_add_a_user(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "full_name": "New Bie",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
            "usable_password": "true",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.text


def test_admin_refuses_an_email_taken_in_another_case(admin_client, user_factory):
    user_factory(email="taken@example.com")

    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newbie",
            "email": "TAKEN@example.com",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
            "usable_password": "true",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert "already exists" in response.text


def test_password_change_in_the_admin_revokes_the_sessions(admin_client, login, user):
    login(user)

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {
            "password1": "a-brand-new-password-9",
            "password2": "a-brand-new-password-9",
            "usable_password": "true",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.text
    assert Session.objects.get().end_reason == "password_changed"


def test_sessions_are_listed_with_their_exact_status(admin_client, login, user_factory):
    now = timezone.now()
    sessions = {}
    for status in ("active", "revoked", "expired", "idle"):
        login(user_factory(username=f"{status}-user"))
        sessions[status] = Session.objects.get(user__username=f"{status}-user")
    Session.objects.filter(pk=sessions["revoked"].pk).update(revoked_at=now, end_reason="admin")
    Session.objects.filter(pk=sessions["expired"].pk).update(expires_at=now - timedelta(seconds=1))
    RefreshTokenRecord.objects.filter(session=sessions["idle"]).update(expires_at=now - timedelta(seconds=1))

    listed = shown(admin_client.get("/admin/accounts/session/"), "status")
    active_only = shown(admin_client.get("/admin/accounts/session/", {"status": "active"}), "status")
    ended_only = shown(admin_client.get("/admin/accounts/session/", {"status": "ended"}), "status")

    assert listed == {str(session.pk): status for status, session in sessions.items()}
    assert active_only == {str(sessions["active"].pk): "active"}
    assert set(ended_only.values()) == {"revoked", "expired", "idle"}


def test_revoke_action_revokes_the_selected_sessions(admin_client, login, user, me):
    tokens = login(user)
    session = Session.objects.get()

    admin_client.post("/admin/accounts/session/", {"action": "revoke", "_selected_action": [str(session.pk)]})

    session.refresh_from_db()
    assert session.end_reason == "admin"
    assert me(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


def test_log_out_everywhere_action_revokes_every_session_of_the_user(admin_client, login, user):
    login(user)
    login(user)

    admin_client.post(
        "/admin/accounts/user/", {"action": "log_out_everywhere", "_selected_action": [str(user.pk)]}
    )

    assert set(Session.objects.values_list("end_reason", flat=True)) == {"logout_everywhere"}


def test_a_session_page_shows_its_refresh_tokens_and_which_are_spent(admin_client, login, user, refresh):
    tokens = login(user)
    refresh(tokens["refresh_token"])
    session = Session.objects.get()

    response = admin_client.get(f"/admin/accounts/session/{session.pk}/change/")

    assert response.status_code == HTTPStatus.OK
    assert "/login" in re.search(r"field-grant_type.*?</div>\s*</div>", response.text, re.DOTALL).group(0)
    assert response.text.count(f"{session.pk.hex}.") >= 2
    assert response.text.count(" issued ") == 2
    assert response.text.count("(spent)") == 1


def test_disabling_the_password_in_the_admin_revokes_the_sessions(admin_client, login, user):
    login(user)

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )

    assert response.status_code == HTTPStatus.FOUND, response.text
    assert Session.objects.get().end_reason == "password_changed"


def test_deleting_a_session_in_the_admin_stops_its_tokens(admin_client, login, user, me, refresh):
    tokens = login(user)
    session = Session.objects.get()

    response = admin_client.post(f"/admin/accounts/session/{session.pk}/delete/", {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert me(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def make_key(algorithm: str, activates_at, **extra) -> SigningKey:
    return SigningKey.objects.create(
        **material.generate(algorithm), created_at=activates_at, activates_at=activates_at, **extra
    )


@pytest.fixture
def keys_in_every_state(db) -> dict[str, SigningKey]:
    SigningKey.objects.all().delete()
    now = timezone.now()
    window = timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME_SECONDS + settings.SIGNING_KEYS_RELOAD_SECONDS)
    keys = {
        "expired": make_key("RS256", now - 3 * window),  # superseded by the next more than the window ago
        "published (superseded)": make_key("RS256", now - 2 * window),  # superseded 10 s ago
        "signing": make_key("RS256", now - timedelta(seconds=10)),
        "pending": make_key("RS256", now + timedelta(seconds=600)),
        # Newer than the signing key, but distrusted: it supersedes nothing.
        "compromised": make_key(
            "RS256", now - timedelta(seconds=5), compromised_at=now - timedelta(seconds=1)
        ),
    }
    ring.reset()
    return keys


def test_signing_keys_are_listed_with_their_exact_state(admin_client, keys_in_every_state):
    listed = shown(admin_client.get("/admin/accounts/signingkey/"), "state")

    assert listed == {key.kid: state for state, key in keys_in_every_state.items()}


def test_a_signing_key_page_shows_its_state_algorithm_and_dates(admin_client, keys_in_every_state):
    pending = keys_in_every_state["pending"]

    response = admin_client.get(f"/admin/accounts/signingkey/{pending.kid}/change/")

    assert response.status_code == HTTPStatus.OK
    page = html.unescape(re.sub(r"<[^>]+>", " ", response.text))
    assert re.search(r"State:?\s+pending\b", page, flags=re.IGNORECASE)
    assert "RS256" in page
    assert pending.kid in page


def test_signing_keys_cannot_be_added_or_changed_in_the_admin(admin_client, keys_in_every_state):
    signing_key = keys_in_every_state["signing"]

    added = admin_client.post("/admin/accounts/signingkey/add/", {"kid": "mine", "algorithm": "RS256"})
    changed = admin_client.post(
        f"/admin/accounts/signingkey/{signing_key.kid}/change/", {"algorithm": "HS256", "compromised_at": ""}
    )

    assert added.status_code == HTTPStatus.FORBIDDEN
    assert changed.status_code == HTTPStatus.FORBIDDEN
    assert SigningKey.objects.get(kid=signing_key.kid).algorithm == "RS256"
    assert not SigningKey.objects.filter(kid="mine").exists()


def test_signing_keys_cannot_be_deleted_in_the_admin(admin_client, keys_in_every_state):
    signing_key = keys_in_every_state["signing"]

    one = admin_client.post(f"/admin/accounts/signingkey/{signing_key.kid}/delete/", {"post": "yes"})
    bulk = admin_client.post(
        "/admin/accounts/signingkey/",
        {"action": "delete_selected", "_selected_action": [signing_key.kid], "post": "yes"},
    )

    assert one.status_code == HTTPStatus.FORBIDDEN
    assert bulk.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)  # "no action selected", nothing done
    assert SigningKey.objects.count() == len(keys_in_every_state)


# --- sessions as the API shows them; pages a person meets -------------------------------------


def test_the_session_list_shows_a_short_id_the_client_and_the_apis_end(admin_client, login, user, api_client):
    tokens = login(user)
    session = Session.objects.get()
    listed = admin_client.get("/admin/accounts/session/")
    api = api_client.get("/users/me/sessions/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()

    assert shown(listed, "short_id") == {str(session.pk): session.pk.hex[:8]}
    assert shown(listed, "client") == {str(session.pk): "-"}
    assert shown(listed, "ends") == {
        str(session.pk): f"{timezone.localtime(session.ends_at()):%Y-%m-%d %H:%M}"
    }
    assert api[0]["expires_at"].startswith(session.ends_at().strftime("%Y-%m-%dT%H:%M"))
    assert session.ends_at() < session.expires_at  # the idle end, earlier than the absolute one


def test_a_session_page_is_read_only_with_a_revoke_button_and_a_readable_title(admin_client, login, user):
    login(user)
    session = Session.objects.get()

    page = admin_client.get(f"/admin/accounts/session/{session.pk}/change/")

    assert page.status_code == HTTPStatus.OK
    assert 'name="_save"' not in page.text
    assert "Revoke this session" in page.text
    assert f"<title>johndoe since {session.created_at:%Y-%m-%d %H:%M}" in page.text
    assert "Ends at" in page.text
    assert "Absolute end" in page.text


def test_the_revoke_button_revokes_through_the_service_with_its_audit_event(
    admin_client, login, user, me, caplog
):
    tokens = login(user)
    session = Session.objects.get()

    response = admin_client.post(f"/admin/accounts/session/{session.pk}/revoke/")

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"/admin/accounts/session/{session.pk}/change/"
    session.refresh_from_db()
    assert session.end_reason == Session.EndReason.ADMIN
    assert me(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert any(record.getMessage() == "session revoked" for record in caplog.records)
    assert "Revoke this session" not in admin_client.get(response["Location"]).text  # already ended


def test_the_revoke_button_asks_to_confirm_and_needs_a_post_and_the_change_permission(
    client, admin_client, login, user, user_factory
):
    login(user)
    session = Session.objects.get()
    confirmation = admin_client.get(f"/admin/accounts/session/{session.pk}/revoke/")
    assert confirmation.status_code == HTTPStatus.OK
    assert "Yes, revoke it" in confirmation.text
    assert '<form method="post">' in confirmation.text
    session.refresh_from_db()
    assert session.revoked_at is None  # asking changes nothing

    from django.contrib.auth.models import Permission

    viewer = user_factory(username="viewer", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_session", content_type__app_label="accounts")
    )
    client.force_login(viewer)
    response = client.post(f"/admin/accounts/session/{session.pk}/revoke/")

    assert response.status_code == HTTPStatus.FORBIDDEN
    session.refresh_from_db()
    assert session.revoked_at is None


def test_view_site_leads_to_the_docs_and_the_root_is_a_page_of_links(admin_client, client):
    assert 'href="/docs/"' in admin_client.get("/admin/").text
    home = client.get("/")
    assert home.status_code == HTTPStatus.OK
    for link in ("/docs/", "/.well-known/openid-configuration", "/admin/"):
        assert f'href="{link}"' in home.text


def test_simplejwts_token_pages_are_off_the_admin_whose_session_pages_show_the_refresh_tokens(admin_client):
    index = admin_client.get("/admin/")

    assert index.status_code == HTTPStatus.OK
    assert "Outstanding tokens" not in index.text
    assert "Blacklisted tokens" not in index.text
    for page in ("outstandingtoken", "blacklistedtoken"):
        assert admin_client.get(f"/admin/token_blacklist/{page}/").status_code == HTTPStatus.NOT_FOUND


def test_deleting_a_session_in_the_admin_revokes_it_through_the_service_first(
    admin_client, login, user, caplog
):
    login(user)
    session = Session.objects.get()

    admin_client.post(f"/admin/accounts/session/{session.pk}/delete/", {"post": "yes"})

    events = [(r.getMessage(), r.audit.get("sid")) for r in caplog.records if r.name == "accounts.audit"]
    names = [name for name, _ in events]
    assert "session revoked" in names
    assert names.index("session revoked") < events.index(("session deleted", session.pk))
    assert not Session.objects.filter(pk=session.pk).exists()


def test_deleting_sessions_by_the_list_action_goes_through_the_service_too(admin_client, login, user, caplog):
    login(user)
    login(user)
    pks = set(Session.objects.values_list("pk", flat=True))

    admin_client.post(
        "/admin/accounts/session/",
        {"action": "delete_selected", "_selected_action": [str(pk) for pk in pks], "post": "yes"},
    )

    deleted = {r.audit["sid"] for r in caplog.records if r.getMessage() == "session deleted"}
    assert deleted == pks
    assert not Session.objects.exists()


def test_deleting_sessions_listed_under_the_active_filter_deletes_them(admin_client, login, user, caplog):
    login(user)
    pk = Session.objects.get().pk

    admin_client.post(
        "/admin/accounts/session/?status=active",
        {"action": "delete_selected", "_selected_action": [str(pk)], "post": "yes"},
    )

    assert not Session.objects.exists()
    assert [r.audit["sid"] for r in caplog.records if r.getMessage() == "session deleted"] == [pk]


def test_a_users_page_links_to_their_sessions(admin_client, login, user, user_factory):
    login(user)
    login(user)
    login(user_factory(username="someone-else"))

    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").text
    link = re.search(r"(\d+) active: <a href=\"([^\"]+)\">see this user's sessions</a>", page)
    listed = shown(admin_client.get(html.unescape(link.group(2))), "user")

    assert link.group(1) == "2"
    assert set(listed.values()) == {str(user)}
    assert len(listed) == 2


def test_groups_are_off_the_admin_index(admin_client):
    page = admin_client.get("/admin/").text

    assert "/admin/auth/group/" not in page


# --- accounts: verification state, pending email, password reset emails, the task queue -------


def test_a_users_page_shows_the_verification_state_and_the_pending_email(admin_client, user):
    user.pending_email = "john@new.example"
    user.save(update_fields=["pending_email"])

    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")

    assert page.status_code == HTTPStatus.OK
    assert 'name="email_verified"' in page.text
    assert 'value="john@new.example"' in page.text
    unverified = admin_client.get("/admin/accounts/user/?email_verified__exact=0")
    verified = admin_client.get("/admin/accounts/user/?email_verified__exact=1")
    assert str(user.pk) in shown(unverified, "username")
    assert str(user.pk) not in shown(verified, "username")


def test_the_send_password_reset_action_queues_a_reset_email_for_each_user_with_an_audit_event(
    admin_client, user, mailbox, caplog
):
    from tests.conftest import run_queued_tasks

    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "send_password_reset", "_selected_action": [str(user.pk)]},
        follow=True,
    )

    assert "A password reset email is on its way to 1 user(s)" in response.text
    assert "password reset sent by an administrator" in caplog.text
    run_queued_tasks()
    assert mailbox.link("johndoe@example.com", "/password-reset/")


def test_the_task_queues_failures_are_listed_with_their_traceback(admin_client, user, settings):
    from django_tasks_db.models import DBTaskResult

    from accounts.selfservice import mail
    from tests.conftest import free_port, run_queued_tasks

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    mail.send("password_changed", user_id=user.pk)
    run_queued_tasks()
    failed = DBTaskResult.objects.get(status="FAILED")

    listed = admin_client.get("/admin/django_tasks_database/dbtaskresult/?status__exact=FAILED")
    page = admin_client.get(f"/admin/django_tasks_database/dbtaskresult/{failed.pk}/change/")

    assert listed.status_code == page.status_code == HTTPStatus.OK
    assert ">deliver<" in listed.text
    assert "ConnectionRefusedError" in page.text
