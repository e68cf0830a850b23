from datetime import timedelta

import pytest
from django.utils import timezone

from byok.models import ProviderKey
from tests.byok.routing_helpers import key_for, team


@pytest.fixture
def owner_team():
    """An owner on the business plan, their workspace and a member."""
    return team()


@pytest.fixture
def akia(sandbox, owner_team):
    """A long-term key on its own simulated AWS account, with no session yet: due."""
    owner = owner_team[0]
    account = sandbox.add_account("bedrock")
    return key_for(owner, account), account


def expire_session(key: ProviderKey, *, in_: timedelta) -> None:
    ProviderKey.objects.filter(pk=key.pk).update(session_token_expires_at=timezone.now() + in_)
