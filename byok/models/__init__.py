from .audit import AuditAction, AuditEvent
from .keys import ProviderKey
from .usage import PlatformCreditUsage, UsageRecord

__all__ = ["AuditAction", "AuditEvent", "PlatformCreditUsage", "ProviderKey", "UsageRecord"]
