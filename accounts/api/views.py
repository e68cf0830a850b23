from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ..models import User
from ..selectors import workspaces_visible_to
from .serializers import AuthTokenInput, MeOutput, WorkspaceDetailOutput, WorkspaceOutput


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
    """DRF's token view with the API's own (bounded) parsers instead of its hard-coded stock ones."""

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    serializer_class = AuthTokenInput
