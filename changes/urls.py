from django.urls import path

from changes import views

app_name = "changes"
urlpatterns = [
    path("", views.change_list, name="list"),
    path("changes/poll", views.change_poll, name="poll"),
    path("changes/chart", views.change_chart, name="chart"),
    path("changes/new", views.change_create, name="new"),
    path("changes/components", views.component_suggestions, name="component-suggestions"),
    path("changes/<int:pk>/", views.change_detail, name="detail"),
    path("changes/test-event/<int:pk>", views.pipeline_test_event, name="pipeline-test-event"),
]
