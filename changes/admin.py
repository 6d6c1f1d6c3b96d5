from django.contrib import admin

from changes.models import ChangeEvent


@admin.register(ChangeEvent)
class ChangeEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "component", "environment", "kind", "outcome", "pipeline")
    list_filter = ("kind", "outcome", "environment")
    list_select_related = ("pipeline",)
    search_fields = ("component", "summary", "version", "commit")
    date_hierarchy = "occurred_at"
    raw_id_fields = ("pipeline", "resolved_component", "author")
    readonly_fields = ("received_at", "idempotency_key", "correlated_at")
