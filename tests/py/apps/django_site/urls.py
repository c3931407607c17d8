from django.urls import path

from . import views

urlpatterns = [
    path("hello/", views.hello),
    path("notes/", views.notes),
    path("notes/<int:nid>/", views.note),
    path("boom/", views.boom),
    path("file/", views.file),
]
