"""AWS Bedrock: IAM credentials (iam.py), Bedrock API keys (api_key.py) and IAM roles byok assumes (role.py), sharing
profiles and AWS calls."""

from .api_key import BedrockApiKeyProvider
from .iam import BedrockProvider
from .role import BedrockRoleProvider

__all__ = ["BedrockApiKeyProvider", "BedrockProvider", "BedrockRoleProvider"]
