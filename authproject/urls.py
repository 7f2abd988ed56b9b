"""The public URL map. Every API path answers with and without a trailing slash, no redirect."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerOauthRedirectView

from accounts import views
from accounts.federation import views as federation_views
from accounts.oauth import views as oauth_views
from accounts.oidc import views as oidc_views

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
    re_path(r"^token/?$", views.TokenView.as_view(), name="token"),
    re_path(r"^revoke/?$", views.RevokeView.as_view(), name="revoke"),
    re_path(r"^introspect/?$", oidc_views.IntrospectView.as_view(), name="introspect"),
    re_path(r"^userinfo/?$", oidc_views.UserInfoView.as_view(), name="userinfo"),
    re_path(r"^logout/?$", oidc_views.LogoutView.as_view(), name="logout"),
    re_path(r"^users/me/?$", views.MeView.as_view(), name="me"),
    re_path(r"^users/me/sessions/?$", views.SessionListView.as_view(), name="sessions"),
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
