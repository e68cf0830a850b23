"""AWS Bedrock: IAM credentials (iam.py) and Bedrock API keys (api_key.py), sharing profiles and AWS calls."""

from .api_key import BedrockApiKeyProvider
from .iam import BedrockProvider

__all__ = ["BedrockApiKeyProvider", "BedrockProvider"]
