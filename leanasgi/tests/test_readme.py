"""The README stands alone on the package index: adoption first, internals
after, no link that leaves the package, and every setting documented."""

import re

from django.test import SimpleTestCase

from .server import PACKAGE_DIR

README = (PACKAGE_DIR / "README.md").read_text()


class ReadmeTests(SimpleTestCase):
    def test_adoption_comes_before_the_internals(self):
        """Install and Settings are the first sections; How it works and
        What it relies on come after what an adopter needs."""
        sections = re.findall(r"^## (.+)$", README, re.M)
        self.assertEqual(sections[:2], ["Install", "Settings"])
        for later in ("How it works", "What it relies on"):
            self.assertGreater(
                sections.index(later), sections.index("What costs a thread")
            )

    def test_no_link_leaves_the_package(self):
        """Every link is absolute, or to a file inside the package."""
        for target in re.findall(r"\]\(([^)\s]+)\)", README):
            with self.subTest(target):
                if "://" in target or target.startswith("#"):
                    continue
                self.assertFalse(target.startswith(("../", "/")), target)
                self.assertTrue((PACKAGE_DIR / target.split("#")[0]).exists(), target)

    def test_every_setting_is_documented(self):
        """The settings the code reads are the Settings table's, and no more."""
        code = "".join(p.read_text() for p in (PACKAGE_DIR / "src").rglob("*.py"))
        read = set(re.findall(r'"(LEANASGI_\w+)"', code))
        section = README.split("## Settings")[1].split("\n## ")[0]
        documented = set(re.findall(r"^\| `(LEANASGI_\w+)` \|", section, re.M))
        self.assertEqual(read, documented)

    def test_no_placeholder_is_left(self):
        """No WORD_IN_CAPITALS stands where a table or a sentence should."""
        self.assertEqual(re.findall(r"\b[A-Z]+_(?:TABLE|SENTENCE)\b", README), [])

    def test_the_version_is_one_and_in_the_changelog(self):
        """pyproject.toml's version is leanasgi.__version__, and CHANGELOG.md
        has a section for it."""
        import tomllib

        import leanasgi

        project = tomllib.loads((PACKAGE_DIR / "pyproject.toml").read_text())["project"]
        self.assertEqual(project["version"], leanasgi.__version__)
        changelog = (PACKAGE_DIR / "CHANGELOG.md").read_text()
        self.assertRegex(changelog, rf"(?m)^## {re.escape(leanasgi.__version__)}\b")
