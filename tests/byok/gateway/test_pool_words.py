"""The console's and e-mails' words for a pool name every key in the order calls try them."""

import pytest

from byok.gateway.serving import serving_now
from tests.byok.routing_helpers import key_for, team

pytestmark = pytest.mark.django_db


def test_what_serves_names_the_pool_in_order_with_shares(sim):
    owner, workspace, member = team()
    heavy = key_for(owner, sim.add_account("openai"), provider="openai", name="Heavy", priority=0, weight=3)
    light = key_for(owner, sim.add_account("openai"), provider="openai", name="Light", priority=0, weight=1)
    backup = key_for(owner, sim.add_account("openai"), provider="openai", name="Backup")
    [serving] = serving_now(owner=owner, families=["openai"])
    assert serving.outcome == (f"use “Heavy” ({heavy.key_hint}) and “Light” ({light.key_hint}) (sharing calls 3:1), "
                               f"then, if they cannot serve, “Backup” ({backup.key_hint})")
