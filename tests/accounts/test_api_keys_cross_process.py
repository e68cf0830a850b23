"""A revoked key is refused by another, warm process within a second: the data plane's poll of the "gateway"
generation (every 100 ms) is what carries the news, not a database query per call."""

import json
import os
import subprocess
import sys
import time

import pytest

from accounts.services import api_key_create, api_key_revoke, membership_remove
from tests.byok.gateway.test_cross_process import ROOT, database_url
from tests.factories import WorkspaceFactory, add_member


class KeyProcess:
    def __init__(self):
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "tests.accounts.api_key_process"], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, command: str, raw_key: str) -> dict:
        self.process.stdin.write(f"{command} {raw_key}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the key process died"
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def key_process(transactional_db):
    process = KeyProcess()
    yield process
    process.close()


def warm(key_process, workspace, raw_key):
    assert key_process.ask("auth", raw_key)["principal"] == workspace.slug
    cached = key_process.ask("cached", raw_key)
    assert cached == {"pid": cached["pid"], "cached": True, "principal": workspace.slug, "queries": 0}


@pytest.mark.parametrize("change", ["revoke", "remove_member"])
def test_another_process_refuses_the_key_within_a_second(key_process, change):
    workspace = WorkspaceFactory()
    member = add_member(workspace)
    key, raw_key = api_key_create(workspace=workspace, user=member, name="sdk", actor=member)
    warm(key_process, workspace, raw_key)

    committed = time.monotonic()
    if change == "revoke":
        api_key_revoke(key=key, actor=member)  # autocommit: the generation moves as this returns
    else:
        membership_remove(workspace=workspace, user=member, actor=workspace.owner)
    answer = key_process.ask("until_refused", raw_key)
    elapsed = time.monotonic() - committed
    assert answer["refused"], answer
    assert answer["seconds"] < 1.0 and elapsed < 1.5, (answer, elapsed)
    assert key_process.ask("cached", raw_key)["principal"] is None  # and the refusal is what is cached now
