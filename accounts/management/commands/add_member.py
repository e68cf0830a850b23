from django.core.management.base import BaseCommand

from core.commands import domain_call, get_user, report

from ...models import Membership
from ...services import membership_add
from ._common import get_workspace


class Command(BaseCommand):
    help = "Add USER to WORKSPACE."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="Workspace slug.")
        parser.add_argument("user", help="Username.")
        parser.add_argument(
            "--role", default=Membership.Role.MEMBER, choices=[Membership.Role.ADMIN, Membership.Role.MEMBER]
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        workspace = get_workspace(options["workspace"])
        user = get_user(options["user"])
        membership = domain_call(membership_add, workspace=workspace, user=user, role=options["role"], actor=None)
        report(
            self,
            options,
            {"workspace": workspace.slug, "user": user.username, "role": membership.role},
            f"Added {user.username} to {workspace.slug} as {membership.role}.",
        )
