from django.contrib import admin

from pipelines.models import AlertSource, Delivery, DeploymentPipeline, SnsSubscription

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


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "pipeline",
        "alert_source",
        "event_type",
        "status_code",
        "outcome",
    )
    list_filter = ("outcome", "status_code")
    list_select_related = ("pipeline", "alert_source")
    readonly_fields = tuple(field.name for field in Delivery._meta.fields)


@admin.register(SnsSubscription)
class SnsSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("topic_arn", "alert_source", "received_at", "confirmed_at", "confirmed_by")
    list_select_related = ("alert_source",)
    readonly_fields = ("subscribe_url", "message_id", "received_at")
