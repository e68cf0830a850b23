"""What the accounts commands share beyond core.commands: finding a workspace by slug."""

from django.core.management.base import CommandError

from ...models import Workspace


def get_workspace(slug: str) -> Workspace:
    try:
        return Workspace.objects.select_related("owner").get(slug=slug)
    except Workspace.DoesNotExist as exc:
        raise CommandError(f"No workspace with slug {slug!r}.") from exc
