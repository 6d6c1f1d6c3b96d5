from django.urls import path

from changes.api import views

app_name = "changes-api"
urlpatterns = [
    path("api/v1/changes", views.ChangesApi.as_view(), name="changes"),
    path("api/v1/changes/batch", views.ChangeBatchIngestApi.as_view(), name="changes-batch"),
    path("api/v1/changes/<int:pk>", views.ChangeDetailApi.as_view(), name="change-detail"),
    path("api/v1/pipelines/<str:key>/events", views.PipelineEventsApi.as_view(), name="events"),
    path("api/deployment-events", views.IlertDeploymentEventsApi.as_view(), name="ilert"),
    path("v2/change/enqueue", views.PagerDutyChangeEventsApi.as_view(), name="pagerduty"),
]
