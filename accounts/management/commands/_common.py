"""What the staff commands share: finding users and workspaces by name, and reporting as text or JSON."""

import json

from django.core.management.base import CommandError

from core.errors import DomainError

from ...models import User, Workspace


def get_user(username: str) -> User:
    try:
        return User.objects.select_related("plan").get(username=username)
    except User.DoesNotExist as exc:
        raise CommandError(f"No user named {username!r}.") from exc


def get_workspace(slug: str) -> Workspace:
    try:
        return Workspace.objects.select_related("owner").get(slug=slug)
    except Workspace.DoesNotExist as exc:
        raise CommandError(f"No workspace with slug {slug!r}.") from exc


def report(command, options, payload: dict, text: str) -> None:
    command.stdout.write(json.dumps(payload, default=str) if options.get("json") else text)


def domain_call(func, **kwargs):
    """Run a service; its domain error becomes a CommandError (non-zero exit, readable message)."""
    try:
        return func(**kwargs)
    except DomainError as exc:
        raise CommandError(f"{exc.message} [{exc.code}]") from exc
