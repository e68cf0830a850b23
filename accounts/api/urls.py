from django.urls import path

from .views import (
    ApiTokenDetailApi,
    ApiTokenListApi,
    MeApi,
    TokenObtainApi,
    WorkspaceApiKeyDetailApi,
    WorkspaceApiKeyListApi,
    WorkspaceDetailApi,
    WorkspaceListApi,
)

urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="auth-token"),
    path("auth/tokens/", ApiTokenListApi.as_view(), name="auth-token-list"),
    path("auth/tokens/<int:pk>/", ApiTokenDetailApi.as_view(), name="auth-token-detail"),
    path("me/", MeApi.as_view(), name="me"),
    path("workspaces/", WorkspaceListApi.as_view(), name="workspace-list"),
    path("workspaces/<slug:slug>/", WorkspaceDetailApi.as_view(), name="workspace-detail"),
    path("workspaces/<slug:slug>/api-keys/", WorkspaceApiKeyListApi.as_view(), name="workspace-api-key-list"),
    path("workspaces/<slug:slug>/api-keys/<int:pk>/", WorkspaceApiKeyDetailApi.as_view(),
         name="workspace-api-key-detail"),
]
