from django.core.management.base import BaseCommand

from core.commands import domain_call, get_user, report

from ...services import workspace_create


class Command(BaseCommand):
    help = "Create a workspace owned by USER."

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, help="Username of the owner.")
        parser.add_argument("--name", required=True, help="Display name.")
        parser.add_argument("--slug", help="URL identifier (default: derived from the name).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        owner = get_user(options["owner"])
        workspace = domain_call(workspace_create, owner=owner, name=options["name"], slug=options["slug"])
        report(
            self,
            options,
            {"slug": workspace.slug, "name": workspace.name, "owner": owner.username},
            f"Created workspace {workspace.slug} owned by {owner.username}.",
        )
