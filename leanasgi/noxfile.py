"""leanasgi's tests and Django's own suites, on each supported Django release.

nox -f leanasgi/noxfile.py          # from the project's root: `make versions`
"""

import nox

DJANGO = ["5.2.19", "6.0.10", "6.1.3"]
# The tests' own tools, pinned as the project pins them.
TEST_REQUIREMENTS = [
    "asgiref==3.13.0",
    "uvicorn==0.54.0",
    "httpx2==2.16.2",
    "pytest==9.2.0",
    "pytest-django==4.14.0",
    "whitenoise==6.12.0",
    "django-cors-headers==4.9.0",
]

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True


@nox.session
@nox.parametrize("django", DJANGO)
def tests(session, django):
    session.install(f"Django=={django}", *TEST_REQUIREMENTS)
    session.install("--no-deps", "-e", ".")
    session.run("python", "-c", "import django; print('Django', django.__version__)")
    session.run("pytest", "-q", "-p", "no:cacheprovider")
    session.run("python", "django_suites.py")
