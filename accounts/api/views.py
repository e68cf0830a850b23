from django.shortcuts import get_object_or_404
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import ErrorOutput

from ..lockout import LoginLockedOut, locked_for, register_success
from ..models import User
from ..selectors import api_keys_visible_to, api_tokens_of, workspaces_visible_to
from ..services import api_key_create, api_key_revoke, api_token_create
from .serializers import (
    ApiKeyCreatedOutput,
    ApiKeyInput,
    ApiKeyOutput,
    ApiTokenOutput,
    AuthTokenInput,
    MeOutput,
    TokenOutput,
    WorkspaceDetailOutput,
    WorkspaceOutput,
)


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


class TokenObtainApi(APIView):
    """A new control-plane API token for a username and password: stored as its hash only, shown once.

    Wrong credentials are a 401 `authentication_failed` (the same whichever of username and password was wrong);
    a locked account or address (accounts/lockout.py) a 429 `locked_out` with Retry-After, even for the right
    password. Each call creates a token (list and revoke them at /api/v1/auth/tokens/).
    """

    permission_classes = [AllowAny]

    @extend_schema(
        request=AuthTokenInput, responses={
            200: TokenOutput,
            401: OpenApiResponse(ErrorOutput, description="Wrong username or password (`authentication_failed`)."),
            429: OpenApiResponse(ErrorOutput, description="Too many failed sign-ins from this account or address "
                                                          "(`locked_out`); see Retry-After."),
        },
        auth=[],
        summary="Exchange a username and password for an API token (shown once)")
    @sensitive_variables("raw_token")
    def post(self, request, *args, **kwargs):
        serializer = AuthTokenInput(data=request.data, context={"request": request})
        if not serializer.is_valid():
            if left := locked_for(request):
                raise LoginLockedOut(left)
            if set(serializer.errors) == {"non_field_errors"}:  # the credentials check itself failed
                raise AuthenticationFailed("Unable to sign in with the credentials given.")
            raise ValidationError(serializer.errors)
        data = serializer.validated_data
        user = data["user"]
        register_success(request, user.get_username())
        token, raw_token = api_token_create(user=user, name=data["name"], expires_in_days=data.get("expires_in_days"),
                                            actor=user)
        return Response(TokenOutput({"token": raw_token, "id": token.pk, "expires_at": token.expires_at}).data)


class ApiTokenListApi(generics.ListAPIView):
    """The caller's own API tokens: never the token itself, only its hint."""

    serializer_class = ApiTokenOutput

    def get_queryset(self):
        return api_tokens_of(self.request.user)

    @extend_schema(summary="Your API tokens (active, expired and revoked; never the token itself)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ApiTokenDetailApi(APIView):
    @extend_schema(request=None, responses={
        204: None,
        404: OpenApiResponse(ErrorOutput, description="No such token of yours (`not_found`)."),
        409: OpenApiResponse(ErrorOutput, description="Already revoked (`api_key_already_revoked`)."),
    }, summary="Revoke one of your API tokens: the next call with it is a 401")
    def delete(self, request, pk):
        token = get_object_or_404(api_tokens_of(request.user), pk=pk)
        api_key_revoke(key=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkspaceApiKeyListApi(generics.ListAPIView):
    """A member's own API keys for the workspace (all of its keys for its owner and admins), and creating one."""

    serializer_class = ApiKeyOutput
    api_key_allowed = False  # managing keys takes a signed-in user or a token: a leaked key cannot mint more

    def workspace(self):
        return get_object_or_404(workspaces_visible_to(self.request.user), slug=self.kwargs["slug"])

    def get_queryset(self):
        return api_keys_visible_to(workspace=self.workspace(), user=self.request.user)

    @extend_schema(summary="API keys of the workspace: a member's own; every member's for its owner and admins")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request={"application/json": ApiKeyInput},  # expires_at may be null: JSON only
                   responses={201: ApiKeyCreatedOutput},
                   summary="Create an API key for yourself in this workspace (the key is shown once)")
    @sensitive_variables("raw_key")
    def post(self, request, slug):
        data = ApiKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw_key = api_key_create(workspace=self.workspace(), user=request.user, actor=request.user,
                                      **data.validated_data)
        key.key = raw_key
        return Response(ApiKeyCreatedOutput(key).data, status=status.HTTP_201_CREATED)


class WorkspaceApiKeyDetailApi(APIView):
    api_key_allowed = False

    @extend_schema(request=None, responses={204: None},
                   summary="Revoke an API key: your own, or any of the workspace's as its owner or admin")
    def delete(self, request, slug, pk):
        workspace = get_object_or_404(workspaces_visible_to(request.user), slug=slug)
        key = get_object_or_404(api_keys_visible_to(workspace=workspace, user=request.user), pk=pk)
        api_key_revoke(key=key, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
