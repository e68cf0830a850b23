"""Reads scoped to what the user's memberships allow."""

from django.db.models import Prefetch, QuerySet

from .models import Membership, User, Workspace


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
