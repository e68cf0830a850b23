"""Reads scoped to what the user's memberships allow."""

from django.db.models import Prefetch, QuerySet

from .models import Membership, User, Workspace


def workspaces_visible_to(user: User) -> QuerySet[Workspace]:
    return (
        Workspace.objects.filter(memberships__user=user)
        .select_related("owner__plan")
        .prefetch_related(Prefetch("memberships", queryset=Membership.objects.select_related("user")))
    )


def memberships_of(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("workspace__owner__plan")


def workspace_role(*, workspace: Workspace, user: User) -> str | None:
    return Membership.objects.filter(workspace=workspace, user=user).values_list("role", flat=True).first()
