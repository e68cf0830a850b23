"""byok keys on the REST API: control-plane API tokens and workspace API keys, one mechanism for both.

Both are `accounts.ApiKey` rows (stored as their SHA-256 only), found through the same cached lookup
(byok.gateway.auth, invalidated by the "gateway" generation): a revoked or expired one is refused on its next call.
Here rather than in core: the lookup and its cache live in byok.gateway, and core imports nothing of the apps.

Accepted as `Authorization: Token <token>` (the header DRF's authtoken used: existing clients keep working, and
tokens migrated from it, which have no `byok_` prefix, are accepted only this way), `Authorization: Bearer byok_…`
and `x-api-key: byok_…` (what the official OpenAI and Anthropic SDKs send).

- A control-plane API token (`POST /api/v1/auth/token/`, no workspace) acts as its user on every endpoint.
- A workspace API key acts only on /api/v1/workspaces/<its workspace's slug>/…: another workspace's slug answers 404
  (as for a workspace one is not a member of), an endpoint outside any workspace 403, and so do views that set
  `api_key_allowed = False` (managing API keys needs a signed-in user or a token: a leaked key cannot mint more).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import ApiKey, User
from accounts.services import api_key_mark_used

from ..gateway.auth import authenticate_api_key, mark_used_due

REFUSED = "Invalid, expired or revoked API token or key."


def raw_api_key(request) -> str | None:
    """The byok token or key the request carries, if any (another kind of bearer token is left to other classes)."""
    parts = authentication.get_authorization_header(request).split()
    scheme = parts[0].lower() if parts else b""
    if scheme == b"token":
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: send `Authorization: Token <token>`.")
        return _ascii(parts[1])
    if len(parts) == 2 and scheme == b"bearer" and parts[1].startswith(ApiKey.PREFIX.encode()):
        return _ascii(parts[1])
    header = request.META.get("HTTP_X_API_KEY", "").strip()
    if header.startswith(ApiKey.PREFIX):
        return header
    return None


def _ascii(value: bytes) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(REFUSED) from None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw_key = raw_api_key(request)
        if raw_key is None:
            return None
        principal = authenticate_api_key(raw_key)
        if principal is None:
            raise exceptions.AuthenticationFailed(REFUSED)
        if not principal.is_token:
            self._check_workspace_scope(request, principal)
        user = User.objects.filter(pk=principal.user_id, is_active=True).first()
        if user is None:  # deactivated since the principal was cached (the generation bump is on its way)
            raise exceptions.AuthenticationFailed(REFUSED)
        if mark_used_due(principal.api_key_id):
            api_key_mark_used([principal.api_key_id])
        return user, principal

    @staticmethod
    def _check_workspace_scope(request, principal) -> None:
        context = getattr(request, "parser_context", None) or {}
        view, kwargs = context.get("view"), context.get("kwargs") or {}
        if "slug" not in kwargs or getattr(view, "api_key_allowed", True) is False:
            raise exceptions.PermissionDenied("Workspace API keys work only on their workspace's member endpoints.")
        if kwargs["slug"] != principal.workspace_slug:
            raise exceptions.NotFound()

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = ["tokenAuth", "bearerAuth", "apiKeyHeader"]

    def get_security_definition(self, auto_schema):
        token = ("An API token (byok_…) from POST /api/v1/auth/token/, sent as `Authorization: Token <token>`; it acts "
                 "as its user on every endpoint until it expires or is revoked.")
        either = ("An API token (as above), or a workspace API key (byok_…, created at "
                  "/api/v1/workspaces/{slug}/api-keys/), which works only on the /api/v1/workspaces/{slug}/ endpoints "
                  "of its own workspace.")
        return [
            {"type": "apiKey", "in": "header", "name": "Authorization", "description": token},
            {"type": "http", "scheme": "bearer", "bearerFormat": "byok_…", "description": either},
            {"type": "apiKey", "in": "header", "name": "x-api-key", "description": either},
        ]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]
