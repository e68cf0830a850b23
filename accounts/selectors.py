"""Reads scoped to what the user's memberships allow."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from .models import ApiKey, Membership, User, Workspace


def workspaces_visible_to(user: User) -> QuerySet[Workspace]:
    return (
        Workspace.objects.filter(memberships__user=user)
        .select_related("owner__plan")
        .prefetch_related(Prefetch("memberships", queryset=Membership.objects.select_related("user")))
    )


def workspace_role(*, workspace: Workspace, user: User) -> str | None:
    return Membership.objects.filter(workspace=workspace, user=user).values_list("role", flat=True).first()


def can_manage_workspace(*, workspace: Workspace, user: User) -> bool:
    """Owners and admins see a workspace's usage and audit trail; members do not."""
    return workspace_role(workspace=workspace, user=user) in Membership.MANAGING_ROLES


# --- workspace API keys ----------------------------------------------------------------------------------------

def api_keys_visible_to(*, workspace: Workspace, user: User) -> QuerySet[ApiKey]:
    """A member sees their own keys of the workspace; its owner and admins see all of them."""
    keys = ApiKey.objects.filter(workspace=workspace).select_related("user")
    if can_manage_workspace(workspace=workspace, user=user):
        return keys
    return keys.filter(user=user)


def api_tokens_of(user: User) -> QuerySet[ApiKey]:
    """A user's own control-plane API tokens (revoked and expired ones included)."""
    return ApiKey.objects.filter(user=user, workspace__isnull=True)


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Who a valid API key or API token speaks for. Holds no secret (the key's hash is not even kept).

    A workspace API key has its workspace; a control-plane API token has none (`is_token`) and acts as its user."""

    api_key_id: int
    user_id: int
    workspace_id: int | None
    workspace_slug: str | None
    key_hint: str
    expires_at: datetime | None = None

    @property
    def is_token(self) -> bool:
        return self.workspace_id is None

    def valid_at(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


# What DRF's authtoken keys looked like (40 hex digits): the only values without the prefix worth a query.
LEGACY_TOKEN = re.compile(r"[0-9a-f]{40}")


def api_key_principal(raw_key: str, *, now: datetime | None = None) -> ApiKeyPrincipal | None:
    """The principal of a usable key or token, in one query; None for an unknown, revoked or expired one, one whose
    user is inactive, a workspace key whose user is no longer a member of its workspace (a deleted workspace takes
    its keys with it).

    A value without the `byok_` prefix can only be a token migrated from DRF's authtoken (accounts migration 0005):
    it matches control-plane tokens only, never a workspace key; anything else is refused without a query."""
    legacy = not raw_key.startswith(ApiKey.PREFIX)
    if legacy and not LEGACY_TOKEN.fullmatch(raw_key):
        return None
    now = now or timezone.now()
    member = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user_id=OuterRef("user_id"))
    keys = ApiKey.objects.filter(workspace__isnull=True) if legacy else ApiKey.objects
    row = (
        keys.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), Q(workspace__isnull=True) | Exists(member),
                    key_hash=ApiKey.hash_of(raw_key), revoked_at__isnull=True, user__is_active=True)
        .order_by()
        .values_list("id", "user_id", "workspace_id", "workspace__slug", "key_hint", "expires_at")[:1]
    )
    return ApiKeyPrincipal(*row[0]) if row else None
