"""The public URL map. Every API path answers with and without a trailing slash, no redirect."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerOauthRedirectView

from accounts import views
from accounts.devices import views as device_views
from accounts.federation import views as federation_views
from accounts.mfa import views as mfa_views
from accounts.oauth import endpoints as oauth_endpoints
from accounts.oauth import views as oauth_views
from accounts.oidc import views as oidc_views
from accounts.selfservice import views as selfservice_views

handler500 = "accounts.middleware.server_error"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    # Browsers ask for it on every page (the admin's, the sign-in pages): Swagger UI's icon.
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")),
    ),
    path("admin/", admin.site.urls),
    re_path(r"^login/?$", views.LoginView.as_view(), name="login"),
    re_path(r"^login/google/?$", federation_views.ProviderSignInView.as_view(), name="login-google"),
    re_path(
        r"^login/google/callback/?$",
        federation_views.ProviderCallbackView.as_view(),
        name="login-google-callback",
    ),
    re_path(r"^login/google/link/?$", federation_views.LinkView.as_view(), name="login-google-link"),
    re_path(r"^authorize/?$", oauth_views.AuthorizeView.as_view(), name="authorize"),
    re_path(r"^par/?$", oauth_endpoints.PushedAuthorizationView.as_view(), name="par"),
    re_path(r"^token/?$", views.TokenView.as_view(), name="token"),
    re_path(
        r"^device_authorization/?$",
        device_views.DeviceAuthorizationView.as_view(),
        name="device-authorization",
    ),
    re_path(r"^device/?$", device_views.DevicePage.as_view(), name="device"),
    re_path(r"^revoke/?$", views.RevokeView.as_view(), name="revoke"),
    re_path(r"^introspect/?$", oidc_views.IntrospectView.as_view(), name="introspect"),
    re_path(r"^userinfo/?$", oidc_views.UserInfoView.as_view(), name="userinfo"),
    re_path(r"^logout/?$", oidc_views.LogoutView.as_view(), name="logout"),
    re_path(r"^users/me/?$", views.MeView.as_view(), name="me"),
    re_path(r"^users/me/sessions/?$", views.SessionListView.as_view(), name="sessions"),
    # People's own accounts (accounts.selfservice): the API ...
    re_path(r"^users/?$", selfservice_views.UsersView.as_view(), name="users"),
    re_path(r"^users/me/password/?$", selfservice_views.PasswordChangeView.as_view(), name="password-change"),
    re_path(r"^users/me/email/?$", selfservice_views.EmailChangeView.as_view(), name="email-change"),
    re_path(
        r"^users/me/email/verification/?$",
        selfservice_views.VerificationView.as_view(),
        name="email-verification",
    ),
    re_path(r"^password-reset/?$", selfservice_views.PasswordResetView.as_view(), name="password-reset"),
    # ... and the pages.
    re_path(r"^signup/?$", selfservice_views.SignUpPage.as_view(), name="signup"),
    re_path(r"^account/?$", selfservice_views.AccountOverviewPage.as_view(), name="account"),
    re_path(r"^account/sign-in/?$", selfservice_views.AccountSignInPage.as_view(), name="account-sign-in"),
    re_path(r"^account/password/?$", selfservice_views.PasswordChangePage.as_view(), name="account-password"),
    re_path(r"^account/email/?$", selfservice_views.EmailChangePage.as_view(), name="account-email"),
    re_path(r"^account/security/?$", mfa_views.SecurityPage.as_view(), name="account-security"),
    re_path(r"^sign-in/second-factor/?$", mfa_views.SecondStepPage.as_view(), name="second-factor"),
    re_path(
        r"^account/security/passkey-options/?$",
        mfa_views.PasskeyRegistrationOptions.as_view(),
        name="passkey-registration-options",
    ),
    re_path(r"^sign-in/passkey/options/?$", mfa_views.PasskeySignInOptions.as_view(), name="passkey-options"),
    re_path(r"^sign-in/passkey/?$", mfa_views.PasskeySignIn.as_view(), name="passkey-sign-in"),
    re_path(
        r"^account/password-reset/?$",
        selfservice_views.PasswordResetRequestPage.as_view(),
        name="account-password-reset",
    ),
    re_path(
        r"^email/confirm/(?P<public_id>[^/]+)/(?P<token>[^/]+)/?$",
        selfservice_views.EmailConfirmPage.as_view(),
        name="email-confirm",
    ),
    re_path(
        r"^password-reset/(?P<public_id>[^/]+)/(?P<token>[^/]+)/?$",
        selfservice_views.PasswordResetPage.as_view(),
        name="password-reset-confirm",
    ),
    re_path(r"^\.well-known/jwks\.json/?$", views.JwksView.as_view(), name="jwks"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.AuthorizationServerMetadataView.as_view(),
        name="openid-configuration",
    ),
    re_path(
        r"^\.well-known/oauth-authorization-server/?$",
        views.AuthorizationServerMetadataView.as_view(),
        name="oauth-authorization-server",
    ),
    re_path(r"^healthz/?$", views.HealthView.as_view(), name="healthz"),
    re_path(r"^schema/?$", views.SchemaView.as_view(), name="schema"),
    re_path(r"^docs/?$", views.SwaggerView.as_view(url_name="schema"), name="docs"),
    path(
        "docs/oauth2-redirect.html",
        SpectacularSwaggerOauthRedirectView.as_view(),
        name="docs-oauth2-redirect",
    ),
    re_path(
        r"^users/me/sessions/(?P<session_id>[^/]+)/?$",
        views.SessionDetailView.as_view(),
        name="session",
    ),
]
