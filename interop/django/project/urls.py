"""simplejwt's documented routes, plus two protected views: one per authentication class."""
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)


class Me(APIView):
    """JWTAuthentication: the token's user_id must name a row of Django's user table."""

    authentication_classes = [JWTAuthentication]

    def get(self, request):
        return Response({'id': request.user.id, 'username': request.user.get_username()})


class MeStateless(APIView):
    """JWTStatelessUserAuthentication: a TokenUser from the claims alone, no database."""

    authentication_classes = [JWTStatelessUserAuthentication]

    def get(self, request):
        return Response({'id': request.user.id, 'claims': dict(request.auth.payload)})


urlpatterns = [
    path('api/token/', TokenObtainPairView.as_view()),
    path('api/token/refresh/', TokenRefreshView.as_view()),
    path('api/token/verify/', TokenVerifyView.as_view()),
    path('api/token/blacklist/', TokenBlacklistView.as_view()),
    path('api/me/', Me.as_view()),
    path('api/me-stateless/', MeStateless.as_view()),
]
