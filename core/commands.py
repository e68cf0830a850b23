"""What the staff commands of every app share: finding a user by name, reporting as text or JSON, domain errors."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from .errors import DomainError


def get_user(username: str):
    User = get_user_model()
    try:
        return User.objects.select_related("plan").get(username=username)
    except User.DoesNotExist as exc:
        raise CommandError(f"No user named {username!r}.") from exc


def report(command, options, payload: dict, text: str) -> None:
    command.stdout.write(json.dumps(payload, default=str) if options.get("json") else text)


def domain_call(func, **kwargs):
    """Run a service; its domain error becomes a CommandError (non-zero exit, readable message)."""
    try:
        return func(**kwargs)
    except DomainError as exc:
        raise CommandError(f"{exc.message} [{exc.code}]") from exc
