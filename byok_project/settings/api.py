"""The REST API (DRF) and its OpenAPI schema."""

from .env import env_int

# --- REST API ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",
        # Workspace API keys (Bearer byok_… / x-api-key), on their own workspace's endpoints only.
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
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
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
    "ENUM_NAME_OVERRIDES": {"CredentialSourceEnum": "byok.models.usage.UsageRecord.Source"},
}
