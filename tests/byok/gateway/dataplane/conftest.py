"""Fixtures shared by the data plane's limit tests."""

import time

import pytest

from tests.byok.routing_helpers import key_for, team


@pytest.fixture
def whole_minute_ahead():
    """Limits count per clock minute: start a test with at least 15 s of its minute left, so it stays in one."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.1)


@pytest.fixture
def owner_team(sandbox):
    """(owner, workspace, member) on the business plan, the owner with an OpenAI key on the simulator."""
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    return owner, workspace, member
