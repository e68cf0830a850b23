"""Bedrock's models, regions and cross-region inference profiles, the IAM policy each profile needs, and what every
way into Bedrock (IAM credentials, API keys, roles) shares as a provider."""

from ..base import EndpointOverride, InferenceProfile, Provider

# Bedrock Runtime and STS on overridable endpoints; the simulator serves both at its root (/model/…, POST /).
BEDROCK_RUNTIME_ENDPOINT = EndpointOverride("BYOK_BEDROCK_ENDPOINT_URL", simulator_path="")
STS_ENDPOINT = EndpointOverride("BYOK_STS_ENDPOINT_URL", simulator_path="")

SONNET_4_5 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS_4_5 = "anthropic.claude-opus-4-5-20251101-v1:0"
BEDROCK_MODELS = {"standard": SONNET_4_5, "complex": OPUS_4_5}
EMBEDDING_MODELS = ("amazon.titan-embed-text-v2:0",)  # the embedding tier's default first

US_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
EU_REGIONS = ("eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2")
APAC_REGIONS = (
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
)
COMMERCIAL_REGIONS = US_REGIONS + ("ca-central-1", "sa-east-1") + EU_REGIONS + APAC_REGIONS


INFERENCE_PROFILES = {
    p.id: p
    for p in (
        InferenceProfile("global", "Global", "Routes to any commercial AWS region for maximum throughput.",
                         COMMERCIAL_REGIONS, "us-east-1"),
        InferenceProfile("us", "US", "Data stays in the United States.", US_REGIONS, "us-east-1"),
        InferenceProfile("eu", "EU", "Data stays in the European Union.", EU_REGIONS, "eu-central-1"),
        InferenceProfile("apac", "APAC", "Data stays in Asia Pacific.", APAC_REGIONS, "ap-northeast-1"),
    )
}
DEFAULT_PROFILE = "global"


def iam_policy(profile: InferenceProfile, *, session_tokens: bool = True) -> dict:
    """The least-privilege policy byok needs for a profile: both models, both ARN kinds, token counting, the default
    embedding model (in the key's region: no profile), and (for IAM users whose long-term keys byok turns into
    sessions) session tokens."""
    models = list(BEDROCK_MODELS.values())
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeClaudeThroughInferenceProfile",
                "Effect": "Allow",
                "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:CountTokens"],
                "Resource": [f"arn:aws:bedrock:*:*:inference-profile/{profile.model_id(m)}" for m in models]
                + [f"arn:aws:bedrock:*::foundation-model/{m}" for m in models]
                + ([f"arn:aws:bedrock:::foundation-model/{m}" for m in models] if profile.id == "global" else [])
                + [f"arn:aws:bedrock:*::foundation-model/{m}" for m in EMBEDDING_MODELS],
            },
            {"Sid": "RefreshSessionTokens", "Effect": "Allow", "Action": ["sts:GetSessionToken"], "Resource": "*"},
        ],
    }
    if not session_tokens:
        policy["Statement"] = policy["Statement"][:1]
    return policy


def trust_policy(*, platform_account_id: str, external_id: str) -> dict:
    """The trust policy of an owner's role: only byok's AWS account may assume it, and only with the owner's
    external ID (which stops another byok customer from pointing byok at this role: the confused deputy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowByokToAssumeThisRole",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{platform_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


UNKNOWN_PROFILE = f"Unknown inference profile; choose one of: {', '.join(INFERENCE_PROFILES)}."


class BedrockFamily(Provider):
    """What every Bedrock provider shares: the models, the regions and the cross-region inference profiles, and the
    permission policy a profile needs."""

    family = "bedrock"
    gen_ai_provider = "aws.bedrock"
    account_label = "AWS account / identity"
    models = BEDROCK_MODELS
    embedding_models = EMBEDDING_MODELS
    inference_profiles = INFERENCE_PROFILES
    default_inference_profile = DEFAULT_PROFILE
    regions = COMMERCIAL_REGIONS
    endpoints = (BEDROCK_RUNTIME_ENDPOINT, STS_ENDPOINT)  # IAM keys and roles get STS sessions; API keys override

    def access_policy(self, inference_profile: str) -> dict:
        return iam_policy(self.inference_profiles[inference_profile or DEFAULT_PROFILE])

    def geography(self, *, inference_profile: str, regions: tuple[str, ...] | list[str] = ()) -> str:
        """The profile's geography (eu, us, apac); the global profile runs anywhere."""
        profile = inference_profile or DEFAULT_PROFILE
        return "" if profile == "global" else profile

    def platform_geography_defaults(self, geography: str) -> dict[str, str]:
        profile = self.inference_profiles.get(geography)
        return {"PLATFORM_BEDROCK_INFERENCE_PROFILE": geography,
                "PLATFORM_AWS_REGION": profile.default_region if profile else ""}
