from django.urls import path

from incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("live/", views.incident_list_live, name="live"),
    path("insights/", views.incident_insights, name="insights"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/live/", views.incident_detail_live, name="detail-live"),
    path("<int:pk>/acknowledge/", views.incident_acknowledge, name="acknowledge"),
    path("<int:pk>/resolve/", views.incident_resolve, name="resolve"),
    path("<int:pk>/reopen/", views.incident_reopen, name="reopen"),
    path("<int:pk>/notes/", views.incident_note, name="note"),
    path("<int:pk>/verdict/", views.incident_verdict, name="verdict"),
    path("components/<slug:slug>/", views.component_detail, name="component"),
    path("open-banner/", views.open_incidents_banner, name="open-banner"),
    path("test-alert/<int:pk>", views.alert_source_test_event, name="alert-source-test-event"),
]
