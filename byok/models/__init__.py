from .audit import AuditAction, AuditEvent
from .keys import ProviderKey

__all__ = ["AuditAction", "AuditEvent", "ProviderKey"]
