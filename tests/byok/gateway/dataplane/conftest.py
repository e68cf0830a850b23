"""Fixtures shared by the data plane's limit tests."""

import pytest

from tests.byok.routing_helpers import key_for, team


@pytest.fixture
def owner_team(sandbox):
    """(owner, workspace, member) on the business plan, the owner with an OpenAI key on the simulator."""
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    return owner, workspace, member
