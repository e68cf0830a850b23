from .catalog import Model, ModelNotice
from .keys import CredentialReminder, ProviderKey, RoleExternalId
from .usage import PlatformCreditUsage, UsageRecord

__all__ = ["CredentialReminder", "Model", "ModelNotice", "PlatformCreditUsage", "ProviderKey", "RoleExternalId", "UsageRecord"]
