from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from core.commands import report

from ...models import Membership, User, Workspace
from ...services import membership_add, user_plan_change, workspace_create

# username -> (plan, is_staff)
DEMO_USERS = {
    "admin": ("free", True),
    "olivia": ("business", False),
    "mark": ("free", False),
    "ada": ("free", False),
    "frank": ("free", False),
}
# slug -> (name, owner, {member: role})
DEMO_WORKSPACES = {
    "acme": ("Acme", "olivia", {"mark": Membership.Role.MEMBER, "ada": Membership.Role.ADMIN}),
    "frank-co": ("Frank & Co", "frank", {}),
}


class Command(BaseCommand):
    help = "Create the demo users and workspaces (idempotent: re-running changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print what was created as JSON.")

    @transaction.atomic
    def handle(self, *args, **options):
        created: list[str] = []
        users = {}
        for username, (plan, is_staff) in DEMO_USERS.items():
            user, was_created = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@example.com", "is_staff": is_staff, "is_superuser": is_staff},
            )
            if was_created:
                user.set_password(settings.BYOK_DEMO_PASSWORD)
                user.save(update_fields=["password"])
                user_plan_change(user=user, plan_code=plan, actor=None)
                created.append(f"user {username} ({plan})")
            users[username] = user
        for slug, (name, owner, members) in DEMO_WORKSPACES.items():
            workspace = Workspace.objects.filter(slug=slug).first()
            if workspace is None:
                workspace = workspace_create(owner=users[owner], name=name, slug=slug)
                created.append(f"workspace {slug}")
            for username, role in members.items():
                if not Membership.objects.filter(workspace=workspace, user=users[username]).exists():
                    membership_add(workspace=workspace, user=users[username], role=role, actor=None)
                    created.append(f"{username} in {slug} as {role}")
        created += _demo_role_external_id(users["olivia"])
        report(
            self,
            options,
            {"created": created},
            "Demo data: " + ("; ".join(created) if created else "already present, nothing changed") + ".",
        )


DEMO_EXTERNAL_ID = "byok-demoOliviaRole0000000001"  # the simulator's demo-bedrock-role trusts it (demo_accounts.json)


def _demo_role_external_id(olivia) -> list[str]:
    """olivia's external ID is the one the simulator's demo role expects, so a role key works in the sandbox."""
    from byok.models import RoleExternalId

    _, was_created = RoleExternalId.objects.get_or_create(owner=olivia, defaults={"external_id": DEMO_EXTERNAL_ID})
    return ["olivia's role external ID"] if was_created else []
