"""What can stop a workspace API key working, or start it again, when it happens outside the API-key services.

One mechanism for all of them: model signals, so that every path is covered — the services, the staff admin, the
commands and cascades (deleting a workspace or a user deletes its memberships and keys row by row, and each row
sends post_delete). Each bumps the "gateway" generation (core.invalidation), inside the transaction that makes the
change; every process drops its cached API-key lookups (this one at once and at commit, the others on their next
poll).

- a membership removed (membership_remove, workspace or user deletion) or added (a re-added member's keys work
  again): Membership post_save (created) / post_delete;
- a workspace deleted: Workspace post_delete (its memberships and keys go with it, which bump too);
- a user deactivated or reactivated: User post_save when `is_active` differs from the value loaded from the
  database (or is unknown). A bulk `User.objects.update(is_active=False)` sends no signal: deactivate through
  `save()` (the staff admin does), or call `generation_bump("gateway")` after the update.

ApiKey create and revoke (workspace API keys and API tokens alike) bump from their services (accounts.services); an
ApiKey deleted as a row bumps here.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.invalidation import generation_bump

from .models import ApiKey, Membership, User, Workspace
from .services import GATEWAY_TOPIC


@receiver(post_save, sender=Membership, dispatch_uid="gateway_membership_saved")
def membership_saved(sender, instance, created, **kwargs):
    if created:
        generation_bump(GATEWAY_TOPIC)


@receiver(post_delete, sender=Membership, dispatch_uid="gateway_membership_deleted")
@receiver(post_delete, sender=Workspace, dispatch_uid="gateway_workspace_deleted")
@receiver(post_delete, sender=ApiKey, dispatch_uid="gateway_api_key_deleted")
def gateway_row_deleted(sender, instance, **kwargs):
    generation_bump(GATEWAY_TOPIC)


@receiver(post_save, sender=User, dispatch_uid="gateway_user_saved")
def user_saved(sender, instance, created, update_fields, **kwargs):
    if created or (update_fields is not None and "is_active" not in update_fields):
        return
    if getattr(instance, "_loaded_is_active", None) != instance.is_active:
        generation_bump(GATEWAY_TOPIC)
    instance._loaded_is_active = instance.is_active
