"""Key pools outside a call: the words for what serves name every key in order, and a cached answer expires when a
cooling key may rejoin its pool."""

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


def test_a_cooling_key_rejoins_its_pool_when_its_cool_down_ends(sim):
    from datetime import timedelta

    from django.utils import timezone

    from byok.gateway.resolve import credentials_resolve
    from byok.models import ProviderKey

    owner, workspace, member = team()
    first = key_for(owner, sim.add_account("openai"), provider="openai", name="First")
    second = key_for(owner, sim.add_account("openai"), provider="openai", name="Second")
    until = timezone.now() + timedelta(seconds=30)
    ProviderKey.objects.filter(pk=first.pk).update(failing_since=timezone.now(), failure_reason="invalid_credentials",
                                                   breaker_open_until=until)
    resolution = credentials_resolve(user=member, workspace_slug=workspace.slug, family="openai")
    assert [m.key.id for m in resolution.pool] == [second.pk]
    assert resolution.changes_at == until  # the cached answer lasts until then, and the first key is probed again
