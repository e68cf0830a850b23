import traceback
from django.db.models.signals import post_save
from django.contrib.contenttypes.models import ContentType
def _created(sender, instance, created, **kw):
    if created:
        print("CT CREATED", instance, "".join(traceback.format_stack(limit=25)))
post_save.connect(_created, sender=ContentType, weak=False)
