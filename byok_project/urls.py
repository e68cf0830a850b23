from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from byok.console import console_site
from core.metrics import metrics_view

from . import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("manage/", console_site.urls),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("byok.api.urls")),
    path("api/v1/", include("audit.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

# Under /api/ errors answer JSON in the API's error shape (core/api.py); inside /manage/ 403 and 404 are console
# pages (byok/console/errors.py, which hands every other path on to core's handlers); elsewhere Django's HTML pages.
handler400 = "core.api.handler400"
handler403 = "byok.console.errors.permission_denied"
handler404 = "byok.console.errors.page_not_found"
handler500 = "core.api.handler500"
