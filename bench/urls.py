"""The project's URLs plus, for comparison only: a floor endpoint and stock simplejwt."""

from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from authproject.urls import urlpatterns as project_urlpatterns


class Floor(APIView):
    """A bare DRF view: no authentication, no database. The cost every endpoint pays at least."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class StockMe(APIView):
    """/users/me/ as stock simplejwt would serve it."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        user = request.user
        return Response({"username": user.username, "email": user.email, "full_name": user.full_name})


urlpatterns = [
    path("bench/floor", Floor.as_view()),
    path("bench/simplejwt/token", TokenObtainPairView.as_view()),
    path("bench/simplejwt/refresh", TokenRefreshView.as_view()),
    path("bench/simplejwt/me", StockMe.as_view()),
    *project_urlpatterns,
]
