"""The Dockerfile: linted by hadolint, and its CMD served here without a Docker engine."""

import json
import os
import shlex
import subprocess
import sys
import tempfile

import httpx2
import pytest
from django.test import SimpleTestCase

from harness.servers import BASE_DIR, free_port, running


def dockerfile_instructions():
    """(instruction, arguments) pairs, continuation lines joined."""
    text = (BASE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        tuple(line.split(None, 1))
        for line in lines
        if line and not line.startswith("#")
    ]


def dockerfile_env():
    env = {}
    for instruction, arguments in dockerfile_instructions():
        if instruction == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def exec_form(instruction_name, prefix=""):
    """The JSON list of the last `instruction_name` (after `prefix`, for HEALTHCHECK)."""
    arguments = [a for i, a in dockerfile_instructions() if i == instruction_name][-1]
    return json.loads(arguments[arguments.index(prefix) + len(prefix) :].strip())


class DockerfileTests(SimpleTestCase):
    def test_hadolint_is_clean(self):
        """hadolint finds nothing to report in the Dockerfile."""
        hadolint = os.path.join(os.path.dirname(sys.executable), "hadolint")
        result = subprocess.run(
            [hadolint, str(BASE_DIR / "Dockerfile")], capture_output=True, text=True
        )
        self.assertEqual((result.returncode, result.stdout), (0, ""))

    def test_local_requirements_are_copied_before_they_are_installed(self):
        """Each local path in requirements.txt (the lean ASGI package) is
        copied into the image before `pip install -r requirements.txt` runs."""
        local = [
            line.strip()
            for line in (BASE_DIR / "requirements.txt").read_text().splitlines()
            if line.startswith("./")
        ]
        self.assertEqual(local, ["./leanasgi"])
        steps = dockerfile_instructions()
        install = steps.index(("RUN", "pip install -r requirements.txt"))
        copied = [args.split()[0] for step, args in steps[:install] if step == "COPY"]
        for path in local:
            self.assertIn(path.removeprefix("./"), copied)

    def test_image_runs_as_a_non_root_user_with_debug_off(self):
        """The image switches to a non-root user and sets DJANGO_DEBUG=0."""
        users = [a for i, a in dockerfile_instructions() if i == "USER"]
        self.assertNotIn(users[-1], ("root", "0"))
        self.assertEqual(dockerfile_env()["DJANGO_DEBUG"], "0")


@pytest.mark.slow
def test_cmd_serves_the_site_and_passes_the_healthcheck():
    """The image's CMD, run here, serves the API; its HEALTHCHECK command passes."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {
            **dockerfile_env(),
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "DJANGO_SECRET_KEY": "docker-test-" + "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{data}/db.sqlite3",
            "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
            "DJANGO_HTTPS": None,  # the image's default: HTTPS hardening on
        }
        url = f"http://127.0.0.1:{port}"
        with running(exec_form("CMD"), url, env=env, timeout=60):
            health = subprocess.run(
                exec_form("HEALTHCHECK", prefix="CMD"),
                cwd=BASE_DIR,
                env={**os.environ, **env, "DJANGO_HTTPS": "1"},
            )
            assert health.returncode == 0

            seed = url + "/api/say-after?delay=0&word=hello"
            behind_tls = httpx2.get(seed, headers={"X-Forwarded-Proto": "https"})
            assert behind_tls.json() == {"saying": "hello"}
            assert "max-age=" in behind_tls.headers["Strict-Transport-Security"]
            plain = httpx2.get(seed)
            assert plain.status_code == 301
            assert plain.headers["Location"].startswith("https://")
