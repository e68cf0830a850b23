from .audit import AuditAction, AuditEvent

__all__ = ["AuditAction", "AuditEvent"]
