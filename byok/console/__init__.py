"""The owner console at /manage/: a second AdminSite for workspace owners (and their workspace admins, read-only).

site.py holds the AdminSite (`console_site`) and the ModelAdmins' base; keys.py, workspaces.py, api_keys.py, limits.py
and audit.py one ModelAdmin each, with its custom views; forms.py the forms; scope.py the reads, scoped to the signed-in user.
The ModelAdmins are registered here, so that they import the site and the site imports none of them.
"""

from accounts.models import ApiKey, Workspace
from audit.models import AuditEvent

from ..models import ProviderKey, UsageLimit
from .api_keys import ApiKeyConsoleAdmin
from .audit import AuditEventConsoleAdmin
from .keys import ProviderKeyConsoleAdmin
from .limits import UsageLimitConsoleAdmin
from .site import console_site
from .workspaces import WorkspaceConsoleAdmin

console_site.register(ProviderKey, ProviderKeyConsoleAdmin)
console_site.register(Workspace, WorkspaceConsoleAdmin)
console_site.register(AuditEvent, AuditEventConsoleAdmin)
console_site.register(ApiKey, ApiKeyConsoleAdmin)
console_site.register(UsageLimit, UsageLimitConsoleAdmin)

__all__ = ["console_site"]
