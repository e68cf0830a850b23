from .catalog import Model, ModelNotice
from .keys import CredentialReminder, ProviderKey, RoleExternalId
from .limits import PlanCeiling, UsageLimit
from .usage import TOKENS_PER_CREDIT, PlatformCreditUsage, UsageDeadLetter, UsageRecord

__all__ = ["TOKENS_PER_CREDIT", "CredentialReminder", "Model", "ModelNotice", "PlanCeiling", "PlatformCreditUsage", "ProviderKey",
           "RoleExternalId", "UsageDeadLetter", "UsageLimit", "UsageRecord"]
