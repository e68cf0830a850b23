from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from byok.console import console_site

from . import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("manage/", console_site.urls),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("byok.api.urls")),
    path("api/v1/", include("audit.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

handler403 = "byok.console.errors.permission_denied"
handler404 = "byok.console.errors.page_not_found"
