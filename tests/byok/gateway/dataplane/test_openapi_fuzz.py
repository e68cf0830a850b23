"""A JSON-aware fuzz of /v1: schemathesis drives the live data plane, with the simulator behind it, from the
description byok publishes at /v1/openapi.json. Bodies that follow the description (positive) and bodies that break
it (negative) go to every operation, their model drawn from every family the workspace has a key for, so the cases
reach each family's translation. Whatever comes in: no 5xx, no hang, an answer the description documents (status,
headers, errors in the endpoint's own shape), and a body that breaks the description refused with a 4xx.

The run is bounded and the same every time (derandomized, FUZZ_EXAMPLES examples per operation and mode);
FUZZ_EXAMPLES and FUZZ_RANDOM=1 explore further."""

import os
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis import checks

from tests.byok.gateway.dataplane.test_dataplane_vertex_role import vertex_key
from tests.byok.routing_helpers import key_for

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
MODELS = ["bedrock/standard", "anthropic/complex", "openai/standard", "mistral/standard", "vertex/standard",
          "vertex/gemini-2.5-flash", "claude-sonnet", "standard", "openai/embedding", "bedrock/embedding",
          "vertex/embedding", "mistral/embedding", "no-such-model"]


def declared_fields_refused(ctx, response, case):
    """schemathesis' negative_data_rejection, for a body that breaks what byok checks on every family before any
    provider is called: a field's own check. A shape inside a field (`allOf[1]` in the description) is read by the
    translating families' walkers and by the provider on pass-through families (the simulator is lenient there)."""
    mutations = [m for m in case.meta.phase.data.mutations if m.parameter_location == ParameterLocation.BODY]
    if mutations and not any("/allOf/1" in m.schema_pointer for m in mutations):
        return checks.negative_data_rejection(ctx, response, case)
    return None


CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance, declared_fields_refused]


@pytest.fixture
def every_family(sandbox):
    """A member whose workspace owner has a key on every family (Vertex serving Claude and Gemini)."""
    member, _, _ = vertex_key(sandbox)
    owner = member.memberships.get().workspace.owner
    for provider in ("bedrock", "anthropic", "openai", "mistral"):
        key_for(owner, sandbox.add_account(provider), provider=provider)
    return member


def with_model(case, model: str):
    """The body's model, when it is a string, named from the workspace's families (a random one names none)."""
    if isinstance(case.body, dict) and isinstance(case.body.get("model"), str):
        case.body["model"] = model
    if case.path_parameters and "model" in case.path_parameters:
        case.path_parameters["model"] = model
    return case


def test_v1_holds_under_a_json_aware_fuzz(dataplane, every_family):
    schema = schemathesis.openapi.from_url(f"{dataplane.url}/v1/openapi.json")
    headers = {"Authorization": f"Bearer {dataplane.token(every_family)}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    failures, statuses, started = [], Counter(), time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=st.tuples(operation.as_strategy(generation_mode=mode), st.sampled_from(MODELS)).map(
                lambda pair: with_model(*pair)))
            @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call(base_url=dataplane.url, headers=headers, timeout=30)
                statuses[response.status_code] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001  (every failure reported, by operation)
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:3000]}")
    seconds = time.monotonic() - started
    print(f"fuzz: {sum(statuses.values())} cases in {seconds:.1f} s, statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures)
    assert sum(statuses.values()) >= len(operations) * EXAMPLES and not any(status >= 500 for status in statuses)
