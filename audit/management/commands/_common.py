"""What the audit commands share."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def get_user(username: str):
    User = get_user_model()
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise CommandError(f"No user named {username!r}.") from exc
