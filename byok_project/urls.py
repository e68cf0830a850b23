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

# Under /api/ errors answer JSON in the API's error shape; elsewhere Django's HTML pages (core/api.py).
handler400 = "core.api.handler400"
handler403 = "core.api.handler403"
handler404 = "core.api.handler404"
handler500 = "core.api.handler500"
