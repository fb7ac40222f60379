"""The project's django-ninja API, mounted at /api/; each app contributes a router."""

from ninja import NinjaAPI

from aggregator.api import router as aggregator_router
from blog.api import router as blog_router

api = NinjaAPI(
    title="Async views reference API",
    version="1.0",
    description="The operations of django-ninja's guide to async views, on Django 6.1.",
    urls_namespace="api",
)
api.add_router("", aggregator_router)
api.add_router("/blog", blog_router)
