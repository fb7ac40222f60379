"""Site-wide pages: the index of demos and the health check."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


def index(request):
    """Every demo, by app, with its link and a command to try it."""
    context = {"lab": settings.LAB, "demos": settings.DEMOS}
    return render(request, "index.html", context)


async def healthz(request):
    """Liveness for the container's HEALTHCHECK: no database, no template."""
    return JsonResponse({"status": "ok"})
