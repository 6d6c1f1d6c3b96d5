from django.urls import path

from changes import views

app_name = "changes"
urlpatterns = [
    path("", views.change_list, name="list"),
    path("changes/<int:pk>/", views.change_detail, name="detail"),
]
