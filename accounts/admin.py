"""Users and sessions in the Django admin."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.forms import UserCreationForm as DjangoUserCreationForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from rest_framework_simplejwt.token_blacklist import admin as token_blacklist_admin

from accounts import clock, refresh_records, services
from accounts.apis import scopes as api_scopes
from accounts.apis.models import Api, ApiScope
from accounts.keys import ring
from accounts.mfa import factors as mfa_factors
from accounts.models import (
    Client,
    LinkedIdentity,
    Passkey,
    RecoveryCode,
    Session,
    SigningKey,
    TotpDevice,
    User,
)
from accounts.oauth import clients
from accounts.oauth.models import AUTHORIZATION_CODE, GRANT_TYPES, default_grant_types
from accounts.responses import SeeOther
from accounts.selfservice import services as selfservice
from accounts.signin import methods as signin_methods
from accounts.signin import state as signin_state
from accounts.throttling.forms import ThrottledAdminAuthenticationForm

# The admin's sign-in counts failures on the same counters as /login (and shows the same block).
admin.site.login_form = ThrottledAdminAuthenticationForm
# "View site": the service has no site of its own; its documentation is the place to go.
admin.site.site_url = "/docs/"
admin.site.site_header = "authproject administration"
admin.site.site_title = "authproject admin"
# Four models: the index and the breadcrumbs reach them; the sidebar's 300 px go to the lists, so
# that the users', sessions' and clients' lists fit a 1280 px screen (tests/test_pages_in_chromium.py).
admin.site.enable_nav_sidebar = False


def _login_with_second_step(request, extra_context=None):
    """The admin's sign-in, then the second step for a user who has a second factor: the password
    alone never opens the admin (nor the account's pages) of such a user."""
    response = _django_admin_login(request, extra_context)
    user = request.user
    if request.method == "POST" and user.is_authenticated and signin_methods.needs_second_step(user):
        signin_state.begin_second_step(
            request, user, methods=(signin_methods.PASSWORD,), auth_time=clock.now(), next_url="/admin"
        )
        return SeeOther(signin_state.SECOND_STEP_PATH)
    return response


_django_admin_login = admin.site.login
admin.site.login = _login_with_second_step
# simplejwt's own pages ("Outstanding tokens", "Blacklisted tokens") are off the index: a refresh
# token is shown, spent or not, on its session's page, and deleting or blacklisting one there
# would skip the session service (no revocation of the session, no audit event).
admin.site.unregister(token_blacklist_admin.OutstandingToken)
admin.site.unregister(token_blacklist_admin.BlacklistedToken)
# Groups are off the index too: nothing of the service is granted by group (staff and superusers
# are set on the user's page).
admin.site.unregister(Group)


class UserCreationForm(DjangoUserCreationForm):
    class Meta(DjangoUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "full_name")


class UserChangeForm(DjangoUserChangeForm):
    class Meta(DjangoUserChangeForm.Meta):
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    readonly_fields = ("linked_identities", "sessions", "second_factors")
    list_display = (
        "username",
        "email",
        "email_verified",
        "full_name",
        "is_active",
        "is_staff",
        "date_joined",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "email_verified")
    search_fields = ("username", "email", "full_name")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("full_name", "email", "email_verified", "pending_email")}),
        ("Sessions", {"fields": ("sessions",)}),
        ("Two-step sign-in", {"fields": ("second_factors",)}),
        ("Sign in with Google", {"fields": ("linked_identities",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "full_name", "password1", "password2"),
            },
        ),
    )
    actions = ["log_out_everywhere", "send_password_reset", "reset_second_factors"]

    @admin.display(description="sessions")
    def sessions(self, user: User) -> str:
        """How many sessions are active, with a link to the user's sessions (revoke them there)."""
        if not user.pk:
            return "-"
        active = Session.objects.active().filter(user=user).count()
        url = reverse("admin:accounts_session_changelist") + f"?user__id__exact={user.pk}"
        return format_html('{} active: <a href="{}">see this user\'s sessions</a>', active, url)

    @admin.display(description="linked provider accounts")
    def linked_identities(self, user: User) -> str:
        """The provider accounts that sign in as this user (accounts.federation.linking)."""
        identities = LinkedIdentity.objects.filter(user=user).order_by("created_at") if user.pk else []
        if not identities:
            return "none"
        return format_html_join(
            mark_safe("<br>"),
            "{} at {} (email {}, linked {})",
            (
                (
                    identity.subject,
                    identity.issuer,
                    identity.email or "-",
                    f"{identity.created_at:%Y-%m-%d %H:%M}",
                )
                for identity in identities
            ),
        )

    @admin.display(description="second factors")
    def second_factors(self, user: User) -> str:
        """What the user has set up (never a secret, a key or a code)."""
        if not user.pk:
            return "none"
        parts = []
        device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
        if device is not None:
            used = f", last used {device.last_used_at:%Y-%m-%d %H:%M}" if device.last_used_at else ""
            parts.append(f"authenticator app (since {device.confirmed_at:%Y-%m-%d}{used})")
        for passkey in Passkey.objects.filter(user=user).order_by("created_at"):
            used = f", last used {passkey.last_used_at:%Y-%m-%d %H:%M}" if passkey.last_used_at else ""
            parts.append(f"passkey {passkey.name!r} (since {passkey.created_at:%Y-%m-%d}{used})")
        if not parts:
            return "none"
        left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
        return "; ".join(parts) + f"; {left} recovery code(s) left"

    @admin.action(description="Reset second factors (the user sets them up again; sessions end)")
    def reset_second_factors(self, request, queryset):
        reset = mfa_factors.admin_reset(queryset, admin=request.user)
        revoked = services.admin_users_logout_everywhere(users=queryset)
        self.message_user(
            request,
            f"Second factors reset for {reset} user(s); {revoked} session(s) revoked.",
            messages.SUCCESS,
        )

    @admin.action(description="Send a password reset email")
    def send_password_reset(self, request, queryset):
        sent = selfservice.admin_password_reset(users=queryset, admin=request.user)
        self.message_user(
            request,
            f"A password reset email is on its way to {sent} user(s) (the task queue sends it).",
            messages.SUCCESS,
        )

    @admin.action(description="Log out everywhere (revoke every session)")
    def log_out_everywhere(self, request, queryset):
        revoked = services.admin_users_logout_everywhere(users=queryset)
        self.message_user(request, f"Revoked {revoked} session(s).", messages.SUCCESS)


class SessionStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("ended", "ended")]

    def queryset(self, request, queryset):
        active = Session.objects.active().values("pk")
        if self.value() == "active":
            return queryset.filter(pk__in=active)
        if self.value() == "ended":
            return queryset.exclude(pk__in=active)
        return queryset


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Sessions as the API shows them: read-only, revoked through the service (with its audit
    event) by the Revoke button of a session's page or the list's action."""

    list_display = ("short_id", "user", "client", "status", "short_user_agent", "last_used", "ends")
    list_display_links = ("short_id",)
    list_filter = (SessionStatusFilter, "end_reason")
    search_fields = ("id", "user__username", "user__email", "ip_address")
    list_select_related = ("user", "newest_record", "client")
    ordering = ("-created_at",)
    fields = (
        "id",
        "user",
        "client",
        "grant_type",
        "status",
        "created_at",
        "last_used_at",
        "ends_at",
        "absolute_end",
        "user_agent",
        "ip_address",
        "scope",
        "auth_time",
        "revoked_at",
        "end_reason",
        "refresh_tokens",
    )
    readonly_fields = fields
    actions = ["revoke"]
    change_form_template = "admin/accounts/session/change_form.html"

    @admin.display(description="id")
    def short_id(self, session: Session) -> str:
        return session.id.hex[:8]

    @admin.display(description="status")
    def status(self, session: Session) -> str:
        return session.status()

    @admin.display(description="ends at")
    def ends_at(self, session: Session) -> str:
        """The earlier of the idle end and the absolute end: the API's `expires_at`."""
        return formats.date_format(timezone.localtime(session.ends_at()), "DATETIME_FORMAT")

    @admin.display(description="absolute end")
    def absolute_end(self, session: Session) -> str:
        return formats.date_format(timezone.localtime(session.expires_at), "DATETIME_FORMAT")

    # The list: short columns, so that it fits a 1280 px screen beside the admin's menu and filters.
    @admin.display(description="ends at", ordering="expires_at")
    def ends(self, session: Session) -> str:
        return f"{timezone.localtime(session.ends_at()):%Y-%m-%d %H:%M}"

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, session: Session) -> str:
        return f"{timezone.localtime(session.last_used_at):%Y-%m-%d %H:%M}"

    @admin.display(description="user agent")
    def short_user_agent(self, session: Session) -> str:
        agent = session.user_agent
        return agent if len(agent) <= 24 else f"{agent[:23]}…"

    @admin.display(description="refresh tokens (oldest first)")
    def refresh_tokens(self, session: Session) -> str:
        records = session.refresh_token_records()
        return format_html_join(
            mark_safe("<br>"),
            "{} issued {}, expires {}{}",
            (
                (
                    record.jti,
                    record.created_at,
                    record.expires_at,
                    " (spent)" if refresh_records.is_spent(record) else "",
                )
                for record in records
            ),
        )

    @admin.action(description="Revoke the selected sessions", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = services.admin_sessions_revoke(sessions=queryset)
        self.message_user(request, f"Revoked {revoked} session(s).", messages.SUCCESS)

    def get_urls(self):
        revoke = self.admin_site.admin_view(self.revoke_view)
        return [
            path("<path:object_id>/revoke/", revoke, name="accounts_session_revoke"),
            *super().get_urls(),
        ]

    def revoke_view(self, request, object_id: str):
        """GET: ask to confirm; POST: revoke this session through the service, then back to its page."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        session = self.get_object(request, unquote(object_id))
        if session is None:
            raise Http404("No such session.")
        if request.method == "GET":
            context = {
                **self.admin_site.each_context(request),
                "session": session,
                "title": "Revoke the session?",
            }
            return TemplateResponse(request, "admin/accounts/session/revoke_confirmation.html", context)
        revoked = services.admin_sessions_revoke(sessions=Session.objects.filter(pk=session.pk))
        message = "Session revoked." if revoked else "The session had already ended."
        self.message_user(request, message, messages.SUCCESS if revoked else messages.INFO)
        return HttpResponseRedirect(reverse("admin:accounts_session_change", args=[session.pk]))

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_revoke"] = obj is not None and obj.is_active() and self.has_revoke_permission(request)
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_session")

    def delete_model(self, request, obj: Session) -> None:
        services.admin_sessions_delete(sessions=Session.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        services.admin_sessions_delete(sessions=queryset)

    def has_add_permission(self, request) -> bool:
        return False  # sessions start at a sign-in only

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # nothing to edit: pages are read-only (no Save); revoking has its button


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Signing keys, read-only: they are made and distrusted by `rotate_signing_key`."""

    list_display = ("short_kid", "algorithm", "state", "created_at", "activates_at", "compromised_at")
    list_filter = ("algorithm",)
    ordering = ("-activates_at",)
    fields = ("kid", "algorithm", "state", "created_at", "activates_at", "compromised_at", "public_jwk")
    readonly_fields = fields

    @admin.display(description="kid")
    def short_kid(self, key: SigningKey) -> str:
        return f"{key.kid[:16]}…"

    @admin.display(description="state")
    def state(self, key: SigningKey) -> str:
        if key.compromised_at is not None:
            return "compromised"
        now = clock.now()
        if key.activates_at > now:
            return "pending"
        trusted = list(SigningKey.objects.filter(algorithm=key.algorithm, compromised_at__isnull=True))
        superseded = ring.key_states(trusted, now=now).superseded_at.get(key.kid)
        if superseded is None:
            return "signing"
        return "published (superseded)" if superseded > now - ring.publication_window() else "expired"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a deleted signing key would stop every login until the next start-up


def _lines(value: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in value.splitlines() if line.strip())


class ClientForm(forms.ModelForm):
    """Redirect URIs and origins one per line, checked by the same rules as create_client."""

    grant_types_choice = forms.MultipleChoiceField(
        label="Grant types",
        choices=[(name, name) for name in GRANT_TYPES],
        initial=list(default_grant_types()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What it may use at /token: client_credentials is for confidential clients "
        "(a service's own tokens); another grant is unauthorized_client. None ticked: "
        "authorization_code and refresh_token (or, on a client's page, what it has).",
    )
    redirect_uris_text = forms.CharField(
        label="Redirect URIs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One redirect URI per line (needed with authorization_code): https, http on 127.0.0.1 "
        "or [::1] (any port matches), or a native app's private-use scheme (com.example.app:/callback).",
    )
    allowed_origins_text = forms.CharField(
        label="Allowed origins",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One origin per line (scheme://host[:port]): browsers there may call the token endpoints.",
    )
    post_logout_redirect_uris_text = forms.CharField(
        label="Post-logout redirect URIs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One URI per line, where /logout may send the browser afterwards.",
    )

    class Meta:
        model = Client
        fields = (
            "name",
            "confidential",
            "first_party",
            "require_second_factor",
            "require_dpop",
            "require_pushed_authorization_requests",
            "is_active",
            "jwks",
            "jwks_uri",
            "api_scopes",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["confidential"].disabled = True  # a public client cannot grow a secret
            for name in ("redirect_uris", "allowed_origins", "post_logout_redirect_uris"):
                self.initial[f"{name}_text"] = "\n".join(getattr(self.instance, name))
            self.initial["grant_types_choice"] = list(self.instance.grant_types)

    def clean(self):
        data = super().clean()
        try:
            for uri in _lines(data.get("redirect_uris_text", "")) + _lines(
                data.get("post_logout_redirect_uris_text", "")
            ):
                clients.check_redirect_uri(uri)
            for origin in _lines(data.get("allowed_origins_text", "")):
                clients.check_origin(origin)
            grant_types = tuple(data.get("grant_types_choice") or ()) or (
                tuple(self.instance.grant_types) if self.instance.pk else tuple(default_grant_types())
            )
            data["grant_types_choice"] = list(grant_types)
            confidential = self.instance.confidential if self.instance.pk else data.get("confidential", False)
            has_keys = bool(data.get("jwks") or data.get("jwks_uri"))
            if has_keys and self.instance.pk and not self.instance.confidential:
                raise clients.InvalidRegistration(
                    "a public client cannot get keys: register a confidential client for private_key_jwt"
                )
            clients.check_keys(data.get("jwks"), data.get("jwks_uri") or "")
            clients.check_grant_types(grant_types, confidential=confidential or has_keys)
            if AUTHORIZATION_CODE in grant_types and not _lines(data.get("redirect_uris_text", "")):
                raise clients.InvalidRegistration("a client with authorization_code needs a redirect URI")
        except clients.InvalidRegistration as e:
            raise forms.ValidationError(str(e)) from None
        return data


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    """Clients: created through the same rules as create_client; the secret is shown once."""

    form = ClientForm
    list_display = ("name", "client_id", "confidential", "first_party", "is_active", "created_at")
    list_filter = ("confidential", "first_party", "is_active")
    search_fields = ("name", "client_id")
    ordering = ("name",)
    readonly_fields = ("client_id", "created_at")
    filter_horizontal = ("api_scopes",)
    actions = ["disable", "regenerate_secret"]

    def get_fields(self, request, obj=None):
        fields = [
            "name",
            "confidential",
            "first_party",
            "require_second_factor",
            "require_dpop",
            "require_pushed_authorization_requests",
            "is_active",
            "grant_types_choice",
            "redirect_uris_text",
            "jwks",
            "jwks_uri",
            "api_scopes",
        ]
        fields += ["allowed_origins_text", "post_logout_redirect_uris_text"]
        return (["client_id", "created_at"] if obj else []) + fields

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            obj.redirect_uris = list(_lines(data["redirect_uris_text"]))
            obj.allowed_origins = list(_lines(data["allowed_origins_text"]))
            obj.post_logout_redirect_uris = list(_lines(data["post_logout_redirect_uris_text"]))
            obj.grant_types = list(data["grant_types_choice"])
            # Unticking "active" disables through the service, as the list action does.
            disabling = "is_active" in form.changed_data and not obj.is_active
            if disabling:
                obj.is_active = True
            obj.save()
            if disabling:
                services.clients_disable(clients=Client.objects.filter(pk=obj.pk))
                obj.is_active = False
            self._warn_on_a_taken_name(request, obj)
            return
        client, secret = clients.register(
            clients.Registration(
                name=data["name"],
                redirect_uris=_lines(data["redirect_uris_text"]),
                confidential=data["confidential"],
                first_party=data["first_party"],
                require_second_factor=data["require_second_factor"],
                require_dpop=data["require_dpop"],
                require_pushed_authorization_requests=data["require_pushed_authorization_requests"],
                allowed_origins=_lines(data["allowed_origins_text"]),
                post_logout_redirect_uris=_lines(data["post_logout_redirect_uris_text"]),
                grant_types=tuple(data["grant_types_choice"]),
                jwks=data.get("jwks"),
                jwks_uri=data.get("jwks_uri") or "",
                api_scopes=tuple(scope.name for scope in data.get("api_scopes") or ()),
            )
        )
        obj.pk = client.pk
        obj.refresh_from_db()
        self._warn_on_a_taken_name(request, client)
        if secret:
            self.message_user(
                request,
                f"Client {client.client_id} registered. Its secret, shown only this once: {secret}",
                messages.WARNING,
            )

    def delete_model(self, request, obj: Client) -> None:
        services.clients_delete(clients=Client.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        services.clients_delete(clients=queryset)

    @admin.action(description="Regenerate the secret (one confidential client; the old one stops at once)")
    def regenerate_secret(self, request, queryset):
        chosen = list(queryset[:2])
        if len(chosen) != 1 or not chosen[0].confidential:
            self.message_user(request, "Select exactly one confidential client.", messages.ERROR)
            return
        secret = clients.new_secret(chosen[0])
        self.message_user(
            request,
            f"Client {chosen[0].client_id} has a new secret, shown only this once: {secret}",
            messages.WARNING,
        )

    def _warn_on_a_taken_name(self, request, client: Client) -> None:
        if Client.objects.filter(name__iexact=client.name).exclude(pk=client.pk).exists():
            self.message_user(
                request,
                f"Another client is also named {client.name!r}: people cannot tell them apart on the "
                "consent page.",
                messages.WARNING,
            )

    @admin.action(description="Disable the selected clients (and revoke their sessions)")
    def disable(self, request, queryset):
        disabled = services.clients_disable(clients=queryset)
        self.message_user(request, f"Disabled {disabled} client(s).", messages.SUCCESS)


class ApiScopeForm(forms.ModelForm):
    class Meta:
        model = ApiScope
        fields = ("name", "description")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        try:
            api_scopes.check_scope_name(name)
        except api_scopes.InvalidApi as e:
            raise forms.ValidationError(str(e)) from None
        return name


class ApiScopeInline(admin.TabularInline):
    model = ApiScope
    form = ApiScopeForm
    extra = 1


class ApiForm(forms.ModelForm):
    class Meta:
        model = Api
        fields = ("identifier", "name")

    def clean_identifier(self) -> str:
        identifier = self.cleaned_data["identifier"]
        try:
            api_scopes.check_identifier(identifier)
        except api_scopes.InvalidApi as e:
            raise forms.ValidationError(str(e)) from None
        return identifier


@admin.register(Api)
class ApiAdmin(admin.ModelAdmin):
    """APIs that accept this service's access tokens, as create_api registers them: the
    identifier is the tokens' aud; each scope's description is the consent page's line."""

    form = ApiForm
    inlines = [ApiScopeInline]
    list_display = ("name", "identifier", "created_at")
    search_fields = ("name", "identifier")
