"""The public URL map. Every API path answers with and without a trailing slash, no redirect."""

from django.contrib import admin
from django.urls import path, re_path

from accounts import views

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^login/?$", views.LoginView.as_view(), name="login"),
    re_path(r"^token/?$", views.TokenView.as_view(), name="token"),
    re_path(r"^revoke/?$", views.RevokeView.as_view(), name="revoke"),
    re_path(r"^users/me/?$", views.MeView.as_view(), name="me"),
    re_path(r"^users/me/sessions/?$", views.SessionListView.as_view(), name="sessions"),
    re_path(
        r"^users/me/sessions/(?P<session_id>[^/]+)/?$",
        views.SessionDetailView.as_view(),
        name="session",
    ),
]
