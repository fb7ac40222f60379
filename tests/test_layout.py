"""Dependencies point down: the site's apps, then harness/, which tests/,
bench/ and deploy/ share; bench/ may use deploy/ (its figures through the
cluster), never the other way round; and nothing outside tests/ imports it."""

import ast
from pathlib import Path

from django.test import SimpleTestCase

BASE_DIR = Path(__file__).resolve().parent.parent
# Who may not import whom, by top-level package.
FORBIDDEN = {
    "harness": {"tests", "bench", "deploy"},
    "deploy": {"tests", "bench"},
    "bench": {"tests"},
    "leanasgi": {"tests", "bench", "deploy", "harness", "mysite", "aggregator"},
}
SITE = ["mysite", "aggregator", "blog", "lab", "answers"]
for package in SITE:
    FORBIDDEN[package] = {"tests", "bench", "deploy", "harness"}


def imported(path):
    """The top-level package of every absolute import in the file at `path`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def breaches(root=BASE_DIR):
    found = []
    for package, forbidden in FORBIDDEN.items():
        folder = root / package / ("src" if package == "leanasgi" else "")
        for path in sorted(folder.rglob("*.py")):
            for name in sorted(imported(path) & forbidden):
                found.append(f"{path.relative_to(root)} imports {name}")
    return found


class LayoutTests(SimpleTestCase):
    def test_dependencies_point_down(self):
        """No module imports a package above it: nothing outside tests/
        imports tests, and the harness imports none of its users."""
        self.assertEqual(breaches(), [])

    def test_an_import_that_points_up_is_caught(self):
        """The control: a harness module that imports tests is reported."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "harness").mkdir()
            (root / "harness" / "up.py").write_text("from tests import conftest\n")
            self.assertEqual(breaches(root), ["harness/up.py imports tests"])
