"""The Makefile as the front door, and the suite's split into fast and slow."""

import ast
import re
import subprocess

from django.test import SimpleTestCase

from harness.servers import BASE_DIR, serve


def make(*args):
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


class MakeHelpTests(SimpleTestCase):
    def test_help_lists_every_target_with_a_line_each(self):
        """`make help` names every .PHONY target of the Makefile, each on a line
        of its own with what it does, under a group heading."""
        makefile = (BASE_DIR / "Makefile").read_text()
        phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
        result = make("help")
        self.assertEqual(result.returncode, 0, result.stderr)
        described = {
            match.group(1): match.group(2)
            for match in re.finditer(r"^  (\S+)\s{2,}(\S.*)$", result.stdout, re.M)
        }
        self.assertEqual(sorted(described), sorted(phony))
        self.assertGreaterEqual(len(re.findall(r"^\S.*:$", result.stdout, re.M)), 4)


class SlowMarkTests(SimpleTestCase):
    def test_an_unmarked_test_cannot_start_a_server(self):
        """A test without the `slow` mark that starts a server fails at once,
        naming the mark, so `make check` stays fast."""
        with (
            self.assertRaisesRegex(RuntimeError, "mark it @pytest.mark.slow"),
            serve("uvicorn"),
        ):
            pass


def marked_slow(node):
    return any("slow" in ast.unparse(decorator) for decorator in node.decorator_list)


class StyleTests(SimpleTestCase):
    def test_one_style_per_kind(self):
        """As tests/README.md says: a test function at module level starts
        processes and is marked slow; a test case class runs in process and
        is not. A file marked slow as a whole holds no test case class."""
        for path in sorted((BASE_DIR / "tests").glob("test_*.py")):
            tree = ast.parse(path.read_text())
            whole = any(
                isinstance(node, ast.Assign)
                and node.targets[0].id == "pytestmark"
                and "slow" in ast.unparse(node.value)
                for node in tree.body
                if isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
            )
            for node in tree.body:
                with self.subTest(file=path.name, name=getattr(node, "name", "")):
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        if node.name.startswith("test_"):
                            self.assertTrue(whole or marked_slow(node))
                    elif isinstance(node, ast.ClassDef) and node.name.endswith("Tests"):
                        self.assertFalse(whole)
                        self.assertFalse(marked_slow(node))
                    elif isinstance(node, ast.ClassDef):
                        self.assertFalse(node.name.startswith("Test"))
