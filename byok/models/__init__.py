from .catalog import Model, ModelNotice
from .keys import CredentialReminder, ProviderKey, RoleExternalId
from .limits import UsageLimit
from .usage import TOKENS_PER_CREDIT, PlatformCreditUsage, UsageRecord

__all__ = ["TOKENS_PER_CREDIT", "CredentialReminder", "Model", "ModelNotice", "PlatformCreditUsage", "ProviderKey",
           "RoleExternalId", "UsageLimit", "UsageRecord"]
