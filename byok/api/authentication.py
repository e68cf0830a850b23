"""Workspace API keys on the REST API: `Authorization: Bearer byok_…` or `x-api-key: byok_…` (what the official
OpenAI and Anthropic SDKs send), on the member endpoints of the key's own workspace.

Here rather than in core/authentication.py: the key lookup and its cache live in byok.gateway.auth, and core
imports nothing of the apps. DRF `Token` authentication (core) keeps working alongside.

A key acts only on /api/v1/workspaces/<its workspace's slug>/…: another workspace's slug answers 404 (as for a
workspace one is not a member of), an endpoint outside any workspace 403, and so do views that set
`api_key_allowed = False` (managing API keys needs a signed-in user or a token: a leaked key cannot mint more).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import ApiKey, User
from accounts.services import api_key_mark_used

from ..gateway.auth import authenticate_api_key, mark_used_due


def raw_api_key(request) -> str | None:
    """The byok key the request carries, if any (another kind of bearer token is left to other classes)."""
    parts = authentication.get_authorization_header(request).split()
    if len(parts) == 2 and parts[0].lower() == b"bearer" and parts[1].startswith(ApiKey.PREFIX.encode()):
        try:
            return parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
    header = request.META.get("HTTP_X_API_KEY", "").strip()
    if header.startswith(ApiKey.PREFIX):
        return header
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw_key = raw_api_key(request)
        if raw_key is None:
            return None
        principal = authenticate_api_key(raw_key)
        if principal is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        context = getattr(request, "parser_context", None) or {}
        view, kwargs = context.get("view"), context.get("kwargs") or {}
        if "slug" not in kwargs or getattr(view, "api_key_allowed", True) is False:
            raise exceptions.PermissionDenied("Workspace API keys work only on their workspace's member endpoints.")
        if kwargs["slug"] != principal.workspace_slug:
            raise exceptions.NotFound()
        user = User.objects.filter(pk=principal.user_id, is_active=True).first()
        if user is None:  # deactivated since the principal was cached (the generation bump is on its way)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        if mark_used_due(principal.api_key_id):
            api_key_mark_used([principal.api_key_id])
        return user, principal

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = ["workspaceApiKeyBearer", "workspaceApiKeyHeader"]

    def get_security_definition(self, auto_schema):
        description = ("A workspace API key (byok_…), created at /api/v1/workspaces/{slug}/api-keys/. It works only "
                       "on the /api/v1/workspaces/{slug}/ endpoints of its own workspace.")
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "byok_…", "description": description},
            {"type": "apiKey", "in": "header", "name": "x-api-key", "description": description},
        ]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]
