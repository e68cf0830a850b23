"""Staff admin: the model catalog. Every save and delete is audited (CATALOG_CHANGED) and reaches every process
through the catalog generation (byok.catalog.services)."""

from django.contrib import admin

from ..catalog.services import catalog_model_deleted, catalog_model_saved, model_snapshot
from ..catalog.sync import SYNCED_FIELDS
from ..models import Model


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["display_name", "family", "model_id", "kind", "serves_standard", "serves_complex",
                    "serves_embedding", "status",
                    "retires_on", "replacement", "input_price_per_mtok", "output_price_per_mtok"]
    list_filter = ["family", "kind", "status", "serves_standard", "serves_complex", "serves_embedding"]
    search_fields = ["model_id", "display_name", "aliases"]
    list_select_related = ["replacement"]
    fieldsets = [
        (None, {"fields": ["family", "model_id", "display_name", "kind", "aliases", "profile_ids", "context_window",
                           "max_output_tokens"]}),
        ("Tiers", {"fields": ["serves_standard", "serves_complex", "serves_embedding"],
                   "description": "At most one current model per family serves each tier."}),
        ("Prices (USD per million tokens)", {"fields": [
            "input_price_per_mtok", "output_price_per_mtok", "cache_write_5m_price_per_mtok",
            "cache_write_1h_price_per_mtok", "cache_read_price_per_mtok", "long_context_prices", "profile_prices"]}),
        ("Lifecycle", {"fields": ["status", "deprecated_on", "retires_on", "replacement"]}),
        ("Catalog sync", {"fields": ["staff_overrides"],
                          "description": "Fields changed here are added to this list: the daily sync from the "
                                         "packages leaves them as staff set them. Remove a name to let it sync."}),
    ]

    def save_model(self, request, obj, form, change):
        stored = Model.objects.get(pk=obj.pk) if change else None
        before = model_snapshot(stored) if change else None
        if change and obj.staff_overrides == stored.staff_overrides:  # staff did not edit the list themselves
            overridden = [name for name in (*SYNCED_FIELDS, "replacement_id")
                          if getattr(obj, name) != getattr(stored, name)]
            obj.staff_overrides = sorted({*obj.staff_overrides, *(n.removesuffix("_id") for n in overridden)})
        super().save_model(request, obj, form, change)
        catalog_model_saved(model=obj, before=before, actor=request.user)

    def delete_model(self, request, obj):
        catalog_model_deleted(model=obj, actor=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
