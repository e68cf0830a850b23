from .keys import CredentialReminder, ProviderKey
from .usage import PlatformCreditUsage, UsageRecord

__all__ = ["CredentialReminder", "PlatformCreditUsage", "ProviderKey", "UsageRecord"]
