from django.contrib import admin

from pipelines.models import AlertSource, DeploymentPipeline

_READONLY = ("key_hash", "key_prefix", "last_event_at", "created_at", "updated_at")


@admin.register(DeploymentPipeline)
class DeploymentPipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "team", "enabled", "key_prefix", "last_event_at")
    list_filter = ("kind", "enabled", "team")
    list_select_related = ("team",)
    search_fields = ("name", "key_prefix")
    readonly_fields = _READONLY


@admin.register(AlertSource)
class AlertSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "team", "enabled", "key_prefix", "last_event_at")
    list_filter = ("kind", "enabled", "team")
    list_select_related = ("team",)
    search_fields = ("name", "key_prefix")
    readonly_fields = _READONLY
