"""The REST API (DRF) and its OpenAPI schema."""

from collections.abc import Mapping

from .env import env_int


class _ProviderEnumNames(Mapping):
    """Enum component names for the per-provider request variants (byok/api/schema.py), read from the provider
    catalog when the schema is generated (not at settings import, before the apps are loaded)."""

    def _names(self) -> dict:
        from byok.api.schema import enum_name_overrides

        return {"CredentialSourceEnum": "byok.models.usage.UsageRecord.Source", **enum_name_overrides()}

    def __getitem__(self, key):
        return self._names()[key]

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())


# --- REST API ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # API tokens (Token / Bearer byok_…) act as their user everywhere; workspace API keys (Bearer byok_… /
        # x-api-key) only on their own workspace's endpoints. One model, one cached lookup (byok/api/authentication.py).
        "byok.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Bounded parsers (core/parsers.py): body size and JSON depth are checked before anything is parsed.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "core.parsers.FormParser",
        "core.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Request bodies: Django's limit on what it reads into memory (forms), and the API's limit on any body (413
# request_too_large), checked before parsing. JSON nested deeper than BYOK_JSON_MAX_DEPTH is refused (400).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
BYOK_API_MAX_BODY_SIZE = env_int("BYOK_API_MAX_BODY_SIZE", DATA_UPLOAD_MAX_MEMORY_SIZE)
BYOK_JSON_MAX_DEPTH = env_int("BYOK_JSON_MAX_DEPTH", 32)
# Seconds a client is asked to wait (Retry-After) when the database is unreachable (503 service_unavailable).
BYOK_RETRY_AFTER_SECONDS = env_int("BYOK_RETRY_AFTER_SECONDS", 5)

SPECTACULAR_SETTINGS = {
    "TITLE": "byok API",
    "DESCRIPTION": "Bring your own provider keys: workspaces, provider keys, connection tests and LLM routing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the docs work with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": _ProviderEnumNames(),
}
