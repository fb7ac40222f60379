from django.urls import path

from . import views

urlpatterns = [
    path("ready", views.ready),
    path("thread-state", views.thread_state),  # /thread-state?delay=0.2
    path("wait", views.wait),  # /wait?delay=2
    path("sync-calls", views.sync_calls),  # /sync-calls?wait=0.5
    path("stream/queries", views.stream_queries),  # /stream/queries?n=4
    path("stream/raises", views.stream_raises),
    path("stream/sync", views.stream_sync),
    path("file", views.file),  # /file?id=7
    path("file/closed-by", views.file_closed_by),  # /file/closed-by?id=7
    path("finish-raises", views.finish_raises),
    path("signals", views.signals),
    path("stats", views.stats),
    path("late-task", views.late_task),  # /late-task?key=a&delay=0.3
    path("late-result", views.late_result),  # /late-result?key=a
    path("borrows-for", views.borrows_for),
    path("borrows-for-nothing", views.borrows_for_nothing),
    path("session-write", views.session_write),
    path("report", views.Report.as_view()),
    path("cache-touch", views.touch_cache),
    path("upload", views.upload),
]
