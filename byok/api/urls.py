from django.urls import path

from . import connection, keys, limits, workspace

urlpatterns = [
    path("providers/", keys.ProviderCatalogApi.as_view(), name="provider-catalog"),
    path("provider-keys/", keys.ProviderKeyListApi.as_view(), name="provider-key-list"),
    path("limits/", limits.UsageLimitListApi.as_view(), name="usage-limit-list"),
    path("limits/plan-ceilings/", limits.PlanCeilingListApi.as_view(), name="plan-ceiling-list"),
    path("limits/<int:pk>/", limits.UsageLimitDetailApi.as_view(), name="usage-limit-detail"),
    path("provider-keys/test/", connection.ConnectionTestApi.as_view(), name="provider-key-test"),
    path("provider-keys/parse/", connection.ProviderKeyParseApi.as_view(), name="provider-key-parse"),
    path("provider-keys/<int:pk>/", keys.ProviderKeyDetailApi.as_view(), name="provider-key-detail"),
    path("provider-keys/<int:pk>/test-connection/", connection.ProviderKeyTestConnectionApi.as_view(),
         name="provider-key-test-connection"),
    path("provider-keys/<int:pk>/rotate/", keys.ProviderKeyRotateApi.as_view(), name="provider-key-rotate"),
    path("provider-keys/<int:pk>/enable/", keys.ProviderKeyEnableApi.as_view(), name="provider-key-enable"),
    path("provider-keys/<int:pk>/disable/", keys.ProviderKeyDisableApi.as_view(), name="provider-key-disable"),
    path("byok/revert/", keys.ByokRevertApi.as_view(), name="byok-revert"),
    path("workspaces/<slug:slug>/completions/", workspace.CompletionApi.as_view(), name="workspace-completions"),
    path("workspaces/<slug:slug>/byok/", workspace.WorkspaceByokStatusApi.as_view(), name="workspace-byok"),
    path("workspaces/<slug:slug>/byok/test-connection/", workspace.WorkspaceByokTestConnectionApi.as_view(),
         name="workspace-byok-test-connection"),
    path("workspaces/<slug:slug>/usage/", workspace.WorkspaceUsageApi.as_view(), name="workspace-usage"),
]
