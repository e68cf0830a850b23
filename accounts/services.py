"""Writes to accounts. The admin, the API and the staff commands all call these."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from audit.models import AuditAction
from audit.services.record import audit_record
from core.invalidation import generation_bump

from .errors import AlreadyMember, NotAMember, OwnershipTransferRequired, SlugTaken, UnknownPlan
from .models import Membership, Plan, User, Workspace


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
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
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
            generation_bump("gateway")  # cached resolutions in every data-plane process drop
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
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
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
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
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
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
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
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(
            action=AuditAction.PLAN_CHANGED,
            actor=actor,
            owner=user,
            details={"plan": {"from": previous, "to": plan.code}, "byok_allowed": plan.byok_allowed},
        )
    return user
