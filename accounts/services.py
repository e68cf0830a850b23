"""Writes to accounts. The admin, the API and the staff commands all call these."""

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction
from audit.services.record import audit_record
from core.invalidation import generation_bump

from .errors import (
    AlreadyMember,
    ApiKeyAlreadyRevoked,
    ApiKeyExpiryInvalid,
    ApiKeyNotAllowed,
    NotAMember,
    OwnershipTransferRequired,
    SlugTaken,
    UnknownPlan,
)
from .models import ApiKey, Membership, Plan, User, Workspace

# What can stop an API key working (or start it again) bumps this topic; the gateway's key cache listens to it.
# ApiKey writes bump it here; membership, workspace and user changes bump it from accounts.signals.
GATEWAY_TOPIC = "gateway"


def workspace_create(*, owner: User, name: str, slug: str | None = None, actor: User | None = None) -> Workspace:
    """Create a workspace with its owner as the owner member."""
    slug = slug or slugify(name)[:64]
    with transaction.atomic():
        if Workspace.objects.filter(slug=slug).exists():
            raise SlugTaken(f"The slug {slug!r} is already in use.", fields={"slug": ["This slug is already in use."]})
        workspace = Workspace(name=name, slug=slug, owner=owner)
        workspace.full_clean()
        workspace.save()
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
        audit_record(
            action=AuditAction.MEMBER_ADDED,
            actor=actor or owner,
            owner=owner,
            workspace=workspace,
            details={"user": owner.username, "role": Membership.Role.OWNER, "workspace_created": True},
        )
    return workspace


def membership_add(
    *, workspace: Workspace, user: User, role: str = Membership.Role.MEMBER, actor: User | None
) -> Membership:
    if role == Membership.Role.OWNER:
        raise OwnershipTransferRequired(
            "A workspace has one owner; transfer ownership instead.", fields={"role": ["Use ownership transfer."]}
        )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(workspace=workspace, user=user, role=role)
            audit_record(
                action=AuditAction.MEMBER_ADDED,
                actor=actor,
                owner=workspace.owner,
                workspace=workspace,
                details={"user": user.username, "role": role},
            )
    except IntegrityError as exc:
        raise AlreadyMember(f"{user.username} is already a member of {workspace.slug}.") from exc
    return membership


def _membership(workspace: Workspace, user: User) -> Membership:
    try:
        return Membership.objects.select_for_update().get(workspace=workspace, user=user)
    except Membership.DoesNotExist as exc:
        raise NotAMember(f"{user.username} is not a member of {workspace.slug}.") from exc


def membership_remove(*, workspace: Workspace, user: User, actor: User | None) -> None:
    """Remove a member (or let a member leave). The owner must transfer ownership first."""
    with transaction.atomic():
        membership = _membership(workspace, user)
        if membership.role == Membership.Role.OWNER or user.pk == workspace.owner_id:
            raise OwnershipTransferRequired(
                f"{user.username} owns {workspace.slug}; transfer ownership before removing them."
            )
        membership.delete()
        audit_record(
            action=AuditAction.MEMBER_REMOVED,
            actor=actor,
            owner=workspace.owner,
            workspace=workspace,
            details={"user": user.username, "role": membership.role},
        )


def membership_role_change(*, workspace: Workspace, user: User, role: str, actor: User | None) -> Membership:
    with transaction.atomic():
        membership = _membership(workspace, user)
        if membership.role == Membership.Role.OWNER or role == Membership.Role.OWNER:
            raise OwnershipTransferRequired(
                "The owner's role changes only through ownership transfer.", fields={"role": ["Transfer ownership."]}
            )
        previous = membership.role
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
        audit_record(
            action=AuditAction.MEMBER_ROLE_CHANGED,
            actor=actor,
            owner=workspace.owner,
            workspace=workspace,
            details={"user": user.username, "role": {"from": previous, "to": role}},
        )
    return membership


def workspace_ownership_transfer(*, workspace: Workspace, new_owner: User, actor: User | None) -> Workspace:
    """Make a member the owner; the previous owner stays on as an admin."""
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
        previous_owner = workspace.owner
        if new_owner.pk == previous_owner.pk:
            return workspace
        incoming = _membership(workspace, new_owner)
        Membership.objects.filter(workspace=workspace, user=previous_owner).update(role=Membership.Role.ADMIN)
        incoming.role = Membership.Role.OWNER
        incoming.save(update_fields=["role"])
        workspace.owner = new_owner
        workspace.save(update_fields=["owner"])
        audit_record(
            action=AuditAction.OWNERSHIP_TRANSFERRED,
            actor=actor,
            owner=new_owner,
            workspace=workspace,
            details={"from": previous_owner.username, "to": new_owner.username},
        )
    return workspace


def user_plan_change(*, user: User, plan_code: str, actor: User | None) -> User:
    """Move a user to another plan. BYOK follows at once: a downgrade stops it, an upgrade brings it back."""
    try:
        plan = Plan.objects.get(code=plan_code)
    except Plan.DoesNotExist as exc:
        codes = ", ".join(Plan.objects.values_list("code", flat=True))
        raise UnknownPlan(f"Unknown plan {plan_code!r}; choose one of: {codes}.", fields={"plan": ["Unknown plan."]}) from exc
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        previous = user.plan_id
        if previous == plan.code:
            return user
        user.plan = plan
        user.save(update_fields=["plan"])
        audit_record(
            action=AuditAction.PLAN_CHANGED,
            actor=actor,
            owner=user,
            details={"plan": {"from": previous, "to": plan.code}, "byok_allowed": plan.byok_allowed},
        )
    return user


# --- workspace API keys and control-plane API tokens (one model: a token is an ApiKey with no workspace) --------

API_KEY_RANDOM_BYTES = 32
API_KEY_USED_EVERY = timedelta(minutes=1)


def api_key_hint(raw_key: str) -> str:
    return f"{ApiKey.PREFIX}…{raw_key[-4:]}"


@sensitive_variables("raw_key")
def api_key_create(
    *, workspace: Workspace, user: User, name: str, expires_at: datetime | None = None, actor: User | None
) -> tuple[ApiKey, str]:
    """A new key for a member of the workspace: the key object and the key itself, which is never shown again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyExpiryInvalid("An API key must expire in the future.",
                                  fields={"expires_at": ["Must be in the future."]})
    raw_key = ApiKey.PREFIX + secrets.token_urlsafe(API_KEY_RANDOM_BYTES)
    with transaction.atomic():
        if not Membership.objects.filter(workspace=workspace, user=user).exists():
            raise NotAMember(f"{user.username} is not a member of {workspace.slug}.")
        key = ApiKey(workspace=workspace, user=user, name=name, expires_at=expires_at,
                     key_hint=api_key_hint(raw_key), key_hash=ApiKey.hash_of(raw_key))
        key.full_clean()
        key.save()
        audit_record(
            action=AuditAction.API_KEY_CREATED,
            actor=actor,
            owner=workspace.owner,
            workspace=workspace,
            details=_api_key_details(key),
        )
        # A brand-new hash cannot be in any cache, so this bump is for the rule's sake: every key write bumps.
        generation_bump(GATEWAY_TOPIC)
    return key, raw_key


@sensitive_variables("raw_token")
def api_token_create(*, user: User, name: str = "", expires_in_days: int | None = None,
                     actor: User | None) -> tuple[ApiKey, str]:
    """A new control-plane API token for `user` (an ApiKey with no workspace): the token object and the token itself,
    which is never shown again. It expires after `expires_in_days`, by default BYOK_API_TOKEN_DAYS."""
    days = settings.BYOK_API_TOKEN_DAYS if expires_in_days is None else expires_in_days
    if days < 1:
        raise ApiKeyExpiryInvalid("An API token must expire in the future.",
                                  fields={"expires_in_days": ["Must be at least 1."]})
    raw_token = ApiKey.PREFIX + secrets.token_urlsafe(API_KEY_RANDOM_BYTES)
    with transaction.atomic():
        token = ApiKey(workspace=None, user=user, name=name or "API token",
                       expires_at=timezone.now() + timedelta(days=days),
                       key_hint=api_key_hint(raw_token), key_hash=ApiKey.hash_of(raw_token))
        token.full_clean()
        token.save()
        audit_record(action=AuditAction.API_TOKEN_CREATED, actor=actor, owner=user, details=_api_key_details(token))
        generation_bump(GATEWAY_TOPIC)
    return token, raw_token


def api_key_revoke(*, key: ApiKey, actor: User | None) -> ApiKey:
    """Revoke a key or a token (for good): its own user, or (a workspace key) an owner or admin of its workspace.
    Every process refuses it on its next call (this one at once, the others within the gateway's poll interval)."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().select_related("workspace__owner", "user").get(pk=key.pk)
        if actor is not None and actor.pk != key.user_id and (key.is_token or not Membership.objects.filter(
            workspace_id=key.workspace_id, user=actor, role__in=Membership.MANAGING_ROLES
        ).exists()):
            raise ApiKeyNotAllowed("Only the key's own member, or an owner or admin of its workspace, can revoke it.")
        kind = "API token" if key.is_token else "API key"
        if key.revoked_at is not None:
            raise ApiKeyAlreadyRevoked(f"The {kind} {key.key_hint} is already revoked.")
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            action=AuditAction.API_TOKEN_REVOKED if key.is_token else AuditAction.API_KEY_REVOKED,
            actor=actor,
            owner=key.user if key.is_token else key.workspace.owner,
            workspace=key.workspace,
            details=_api_key_details(key),
        )
        generation_bump(GATEWAY_TOPIC)
    return key


def api_key_mark_used(ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Record that keys were used: at most one write per key a minute (the data plane calls this from its usage
    batch, off the hot path). Answers how many keys were written."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    now = now or timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_USED_EVERY)
    return ApiKey.objects.filter(stale, pk__in=ids).update(last_used_at=now)


def _api_key_details(key: ApiKey) -> dict:
    return {"api_key_id": key.pk, "name": key.name, "key_hint": key.key_hint, "user": key.user.username,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None}
