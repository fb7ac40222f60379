from django.urls import path

from . import views

app_name = "lab"
urlpatterns = [
    # ex: /lab/ and /lab/?experiment=say-after&n=50&delay=1&run=1
    path("", views.lab, name="lab"),
    # ex: /lab/run/?experiment=fan-out&n=10&delay=1 (text/event-stream)
    path("run/", views.run, name="run"),
    # ex: /lab/meter/
    path("meter/", views.meter_now, name="meter"),
]
