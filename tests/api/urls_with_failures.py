"""The project's URLs and error handlers, plus views that fail outside DRF (for the error-shape tests)."""

from django.db import OperationalError
from django.urls import path

from byok_project.urls import handler400, handler403, handler404, handler500  # noqa: F401  (the real wiring)
from byok_project.urls import urlpatterns as project_urlpatterns


def crash(request):
    raise RuntimeError("boom")


def database_down(request):
    raise OperationalError("could not connect to server")


urlpatterns = project_urlpatterns + [
    path("api/v1/test-crash/", crash),
    path("api/v1/test-database-down/", database_down),
    path("test-crash/", crash),
]
