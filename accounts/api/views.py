from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.settings import api_settings
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import ErrorOutput

from ..lockout import LoginLockedOut, locked_for, register_success
from ..models import User
from ..selectors import workspaces_visible_to
from .serializers import AuthTokenInput, TokenOutput, MeOutput, WorkspaceDetailOutput, WorkspaceOutput


class MeApi(APIView):
    @extend_schema(responses=MeOutput, summary="The signed-in user, their plan and memberships")
    def get(self, request):
        user = User.objects.select_related("plan").prefetch_related("memberships__workspace").get(pk=request.user.pk)
        return Response(MeOutput(user).data)


class WorkspaceListApi(generics.ListAPIView):
    serializer_class = WorkspaceOutput

    def get_queryset(self):
        return workspaces_visible_to(self.request.user)


class WorkspaceDetailApi(APIView):
    @extend_schema(responses=WorkspaceDetailOutput, summary="A workspace the caller belongs to (404 otherwise)")
    def get(self, request, slug):
        workspace = get_object_or_404(workspaces_visible_to(request.user), slug=slug)
        return Response(WorkspaceDetailOutput(workspace).data)


class TokenObtainApi(ObtainAuthToken):
    """DRF's token view with the API's own (bounded) parsers instead of its hard-coded stock ones.

    Wrong credentials are a 401 `authentication_failed` (the same whichever of username and password was wrong);
    a locked account or address (accounts/lockout.py) a 429 `locked_out` with Retry-After, even for the right
    password.
    """

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    serializer_class = AuthTokenInput

    @extend_schema(
        request=AuthTokenInput, responses={
            200: TokenOutput,
            401: OpenApiResponse(ErrorOutput, description="Wrong username or password (`authentication_failed`)."),
            429: OpenApiResponse(ErrorOutput, description="Too many failed sign-ins from this account or address "
                                                          "(`locked_out`); see Retry-After."),
        },
        summary="Exchange a username and password for an API token")
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if left := locked_for(request):
                raise LoginLockedOut(left)
            if set(serializer.errors) == {"non_field_errors"}:  # the credentials check itself failed
                raise AuthenticationFailed("Unable to sign in with the credentials given.")
            raise ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        register_success(request, user.get_username())
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
