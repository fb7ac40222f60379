"""A SESSION_ENGINE whose store queries the database, slowly, when it is built:
the kind of custom engine that must never run on the event loop."""

import time

from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

BUILD_SECONDS = 0.1


class SessionStore(DatabaseStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self.users_seen = User.objects.count()  # SynchronousOnlyOperation on a loop
        time.sleep(BUILD_SECONDS)
