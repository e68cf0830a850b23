"""A change takes effect on the very next call in every process: proved with two real resolver processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.services import membership_remove, user_plan_change
from byok.services.keys import byok_revert_to_platform, provider_key_create, provider_key_disable, provider_key_enable
from tests.byok.keys_data import BEDROCK_AKIA
from tests.factories import BusinessUserFactory, WorkspaceFactory, add_member

ROOT = Path(__file__).resolve().parents[3]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Resolver:
    def __init__(self):
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "tests.byok.gateway.resolver_process"], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def resolve(self, user, workspace) -> dict:
        self.process.stdin.write(f"{user.pk} {workspace.slug}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the resolver process died"
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def resolvers(transactional_db):
    pair = [Resolver(), Resolver()]
    yield pair
    for resolver in pair:
        resolver.close()


def test_changes_take_effect_on_the_next_call_in_every_process(resolvers):
    owner = BusinessUserFactory()
    workspace = WorkspaceFactory(owner=owner)
    member = add_member(workspace)
    key = provider_key_create(owner=owner, provider="bedrock", name="k", credentials=BEDROCK_AKIA, skip_test=True)

    def sources():
        answers = [r.resolve(member, workspace) for r in resolvers]
        assert answers[0]["pid"] != answers[1]["pid"]
        return [(a["source"], a["reason"]) for a in answers]

    assert sources() == [("byok", "owner_key")] * 2
    provider_key_disable(key=key, actor=owner)
    assert sources() == [("platform", "key_disabled")] * 2
    provider_key_enable(key=key, actor=owner)
    assert sources() == [("byok", "owner_key")] * 2
    user_plan_change(user=owner, plan_code="free", actor=None)
    assert sources() == [("platform", "plan_inactive")] * 2
    user_plan_change(user=owner, plan_code="enterprise", actor=None)
    assert sources() == [("byok", "owner_key")] * 2
    byok_revert_to_platform(owner=owner, actor=owner, confirm=True)
    assert sources() == [("platform", "no_key")] * 2
    membership_remove(workspace=workspace, user=member, actor=owner)
    assert sources() == [(None, "not_a_member")] * 2
