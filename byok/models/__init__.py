from .keys import CredentialReminder, ProviderKey, RoleExternalId
from .usage import PlatformCreditUsage, UsageRecord

__all__ = ["CredentialReminder", "PlatformCreditUsage", "ProviderKey", "RoleExternalId", "UsageRecord"]
