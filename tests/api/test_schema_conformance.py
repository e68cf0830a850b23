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
from schemathesis.specs.openapi import checks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.schema]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))
# Derandomized in the suite (the same cases every run, so CI is stable); SCHEMATHESIS_RANDOM=1 explores.
RANDOM = os.environ.get("SCHEMATHESIS_RANDOM") == "1"

# Rejections no schema can promise away: the provider itself (here unreachable: no network in tests) refuses
# credentials of the documented shape, a credential's or API key's expiry must be in the future, workspace slugs must
# name the caller's own workspaces; and two cross-field rules the schema states only in words: scope `selected`
# needs workspaces, regional sets must lie in the inference profile's regions, and Bedrock AKIA keys take no session
# token or expiry while ASIA ones need a token (TODO: a oneOf of the two shapes in byok/api/schema.py), and a region
# has one regional set at most (uniqueness across array items), and a long-term AKIA set needs an AKIA main key (the
# main key may come from a paste); a completion needs a user
# message among its messages; a PATCH's inference profile depends on the stored key's provider; a limit names exactly
# the workspace, member or API key its subject needs. Every other 4xx for schema-valid
# input is a failure.
SEMANTIC_REJECTIONS = {
    "POST /api/v1/provider-keys/": {"connection_test_failed"},
    "POST /api/v1/provider-keys/test/": {"connection_test_failed"},
    "POST /api/v1/workspaces/{slug}/completions/": set(),
    "PATCH /api/v1/provider-keys/{id}/": set(),
    "POST /api/v1/provider-keys/parse/": set(),
    "POST /api/v1/workspaces/{slug}/api-keys/": set(),
    "POST /api/v1/limits/": set(),
}
SEMANTIC_MESSAGES = ("This date is in the past", "Must be in the future", "does not exist.", "Select at least one workspace",
                     "Select at least one API key", "Leave empty unless the scope is api_keys",
                     "Leave empty when the scope is api_keys",
                     "inference profile's regions", "Session Token", "Include at least one user message",
                     "inference profile", "Leave empty for this provider", "keys do not expire",
                     "already has a credential set", "needs a long-term AKIA main key", "Required for subject",
                     "Leave empty for subject", "Choose a member of the workspace")


def positive_data_acceptance(ctx, response, case):
    """schemathesis' check, less the rejections above (each named by its error code or message)."""
    if response.status_code == 400 and case.operation.label in SEMANTIC_REJECTIONS:
        error = response.json().get("error", {})
        if error.get("code") in SEMANTIC_REJECTIONS[case.operation.label]:
            return None
        # A pasted credentials file (AWS paste, a Vertex key file) is free text that must hold credentials: only its
        # parser can say.
        pasted = ("credentials.pasted", "text", "credentials.service_account_json")
        messages = [m for name, ms in error.get("fields", {}).items() if name not in pasted for m in ms]
        if not messages and any(name in error.get("fields", {}) for name in pasted):
            return None
        if messages and all(any(text in m for text in SEMANTIC_MESSAGES) for m in messages):
            return None
    return checks.positive_data_acceptance(ctx, response, case)


@pytest.fixture
def api_token(transactional_db):
    from accounts.models import ApiKey
    from accounts.services import api_token_create
    from tests.factories import BusinessUserFactory, WorkspaceFactory

    owner = BusinessUserFactory()
    WorkspaceFactory(owner=owner)
    token, raw_token = api_token_create(user=owner, actor=owner)
    # Out of reach of the ids schemathesis tries on DELETE /api/v1/auth/tokens/{id}/, which would otherwise revoke
    # the very token the run authenticates with.
    ApiKey.objects.filter(pk=token.pk).update(id=987_654_321)
    return raw_token


@pytest.fixture
def api_schema(live_server, api_token, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "10000/min"
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")


def test_every_operation_conforms_to_the_schema(api_schema, api_token, live_server):
    # One test looping over the operations (schemathesis' lazy pytest fixture loader does not run on pytest 9),
    # collecting every failure so the report lists them all.
    failures, ran = [], []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 15
    for operation in operations:
        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
                             suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Token {api_token}"},
                                   timeout=30, excluded_checks=[checks.positive_data_acceptance],
                                   additional_checks=[positive_data_acceptance])
            ran.append(operation.label)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001  (each failure is reported with its operation)
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    print(f"schemathesis: {len(operations)} operations, {len(ran)} cases")
    assert not failures, "\n\n".join(failures)
