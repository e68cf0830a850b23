from .audit import AuditAction, AuditEvent
from .keys import CredentialReminder, ProviderKey
from .usage import PlatformCreditUsage, UsageRecord

__all__ = ["AuditAction", "AuditEvent", "CredentialReminder", "PlatformCreditUsage", "ProviderKey", "UsageRecord"]
