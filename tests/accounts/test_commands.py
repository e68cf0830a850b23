import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, User, Workspace

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_demo_and_rerunning_changes_nothing():
    run("seed_demo")
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="olivia").plan_id == "business"
    assert User.objects.get(username="frank").plan_id == "free"
    roles = dict(Membership.objects.filter(workspace__slug="acme").values_list("user__username", "role"))
    assert roles == {"olivia": "owner", "mark": "member", "ada": "admin"}
    assert Workspace.objects.get(slug="frank-co").owner.username == "frank"
    before = (User.objects.count(), Membership.objects.count(), User.objects.get(username="olivia").password)
    assert json.loads(run("seed_demo", "--json")) == {"created": []}
    after = (User.objects.count(), Membership.objects.count(), User.objects.get(username="olivia").password)
    assert before == after


def test_create_workspace_add_member_and_set_plan():
    User.objects.create_user("owner1")
    User.objects.create_user("helper")
    created = json.loads(run("create_workspace", "--owner", "owner1", "--name", "Team One", "--json"))
    assert created == {"slug": "team-one", "name": "Team One", "owner": "owner1"}
    added = json.loads(run("add_member", "team-one", "helper", "--role", "admin", "--json"))
    assert added["role"] == "admin"
    plan = json.loads(run("set_plan", "owner1", "enterprise", "--json"))
    assert plan == {"user": "owner1", "plan": "enterprise", "previous_plan": "free", "byok_allowed": True}


@pytest.mark.parametrize(
    "args, message",
    [
        (("create_workspace", "--owner", "ghost", "--name", "X"), "No user named 'ghost'"),
        (("add_member", "nowhere", "someone"), "No workspace with slug 'nowhere'"),
        (("set_plan", "owner1", "platinum"), "Unknown plan 'platinum'"),
    ],
)
def test_commands_fail_with_a_clear_message(args, message):
    User.objects.create_user("owner1")
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_adding_an_existing_member_fails_with_domain_code():
    run("seed_demo")
    with pytest.raises(CommandError, match="already_member"):
        run("add_member", "acme", "mark")
