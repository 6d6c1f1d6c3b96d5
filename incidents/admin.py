from django.contrib import admin

from incidents.models import Incident, IncidentComponent, SuspectChange, TimelineEntry


class IncidentComponentInline(admin.TabularInline):
    model = IncidentComponent
    extra = 0
    raw_id_fields = ("component",)


class TimelineEntryInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    raw_id_fields = ("user",)


class SuspectChangeInline(admin.TabularInline):
    model = SuspectChange
    extra = 0
    raw_id_fields = ("change", "verdict_by")


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "severity", "alert_source", "team", "started_at")
    list_filter = ("status", "severity", "team")
    list_select_related = ("alert_source", "team")
    search_fields = ("title", "alias")
    date_hierarchy = "started_at"
    raw_id_fields = ("alert_source", "acknowledged_by", "resolved_by")
    inlines = (IncidentComponentInline, TimelineEntryInline, SuspectChangeInline)
