"""Reads, each scoped to what the user may see."""

from django.db.models import QuerySet

from accounts.models import User, Workspace

from .models import ProviderKey


def provider_keys_visible_to(user: User) -> QuerySet[ProviderKey]:
    """Only the owner sees and changes their keys."""
    return ProviderKey.objects.filter(owner=user).select_related("owner__plan").prefetch_related("workspaces")


def workspaces_owned_by(user: User) -> QuerySet[Workspace]:
    return Workspace.objects.filter(owner=user)
