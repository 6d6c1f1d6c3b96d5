from django.urls import path

from incidents.api import views

app_name = "incidents-api"
urlpatterns = [
    path("api/v1/incidents", views.IncidentsApi.as_view(), name="incidents"),
    path("api/v1/incidents/<int:pk>", views.IncidentDetailApi.as_view(), name="incident-detail"),
    path("api/v1/incidents/<int:pk>/notes", views.IncidentNotesApi.as_view(), name="notes"),
    path("api/v1/alerts", views.AlertsApi.as_view(), name="alerts"),
    path(
        "api/v1/alert-sources/<str:key>/alerts",
        views.AlertSourceAlertsApi.as_view(),
        name="source-alerts",
    ),
    path("v2/enqueue", views.PagerDutyEventsApi.as_view(), name="pagerduty"),
]
