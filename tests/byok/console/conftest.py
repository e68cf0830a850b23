"""What the console tests share: olivia, her workspace Acme, and a signed-in client."""

import pytest
from django.test import Client

from tests.factories import BusinessUserFactory, WorkspaceFactory


@pytest.fixture
def owner():
    return BusinessUserFactory(username="olivia")


@pytest.fixture
def workspace(owner):
    return WorkspaceFactory(owner=owner, name="Acme", slug="acme")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
