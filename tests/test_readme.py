"""Every figure the README and its chapters quote comes from a saved output.

The result tables and bullets of README.md, leanasgi/README.md and the
chapters in docs/ are parsed; each measured number in them (a table cell's
numbers, a bullet's numbers with a unit) must appear, at the precision
given, in docs/bench/ or docs/figures/, which `make bench`, `make storm` and
`make figures` write. Every relative link in them must lead to a file.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

from django.test import SimpleTestCase

BASE_DIR = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
UNITS = r"(?:ms|s|µs|MiB|%|requests/s|requests a second|requests per second|threads)"
WITH_UNIT = re.compile(rf"(\d[\d,]*(?:\.\d+)?)\s*{UNITS}(?![\w/])")
CHAPTERS = sorted((BASE_DIR / "docs").glob("*.md"))
DOCUMENTS = [BASE_DIR / "README.md", BASE_DIR / "leanasgi" / "README.md", *CHAPTERS]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A table is a result table when its header names a measurement.
RESULT_HEADERS = re.compile(
    r"\bms\b|elapsed|what happens|req/s|slowest|SQLite|lean|suites"
)


def without_code(text):
    """Commands and paths in backticks are not figures."""
    return re.sub(r"`[^`]*`", "", text)


def tables(lines):
    """Each markdown table: its header row and its body rows, as cells."""
    table = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip("|").split("|")])
        elif table:
            header, _rule, *body = table
            yield header, body
            table = []


def figures(readme):
    """(where, figure) for every measured number the README states."""
    lines = readme.splitlines()
    for header, body in tables(lines):
        if not RESULT_HEADERS.search(" ".join(header)):
            continue
        for row in body:
            for cell in row[1:]:
                for number in NUMBER.findall(without_code(cell)):
                    yield row[0], number
    for bullet in bullets(lines):
        for number in WITH_UNIT.findall(without_code(bullet)):
            yield bullet[:60], number


def bullets(lines):
    """Each bullet or numbered item, with the indented lines that continue it."""
    item = None
    for line in [*lines, ""]:
        starts = re.match(r"\s*(-|\d+\.) ", line)
        if item is not None and not starts and line.startswith("  "):
            item += " " + line.strip()
            continue
        if item is not None:
            yield item
        item = line.strip() if starts else None


def saved_numbers():
    numbers = set()
    for folder in ("docs/bench", "docs/figures"):
        for path in (BASE_DIR / folder).rglob("*"):
            if path.suffix in (".txt", ".md", ".csv"):
                numbers.update(NUMBER.findall(path.read_text()))
    return {float(number.replace(",", "")) for number in numbers}


def found(figure, saved):
    """Whether a saved number rounds to `figure` at the figure's precision."""
    decimals = len(figure.partition(".")[2])
    value = float(figure.replace(",", ""))
    return any(round(number, decimals) == value for number in saved)


class ReadmeFigureTests(SimpleTestCase):
    def test_the_parser_finds_the_figures(self):
        """The parser sees the tables and bullets: over a hundred figures in
        the chapters, and some on the front page."""
        counts = {doc.name: len(list(figures(doc.read_text()))) for doc in DOCUMENTS}
        self.assertGreater(sum(counts.values()), 100)
        self.assertGreater(counts["README.md"], 5)

    def test_a_figure_from_nowhere_is_caught(self):
        """A number that is in no saved output fails the check."""
        saved = saved_numbers()
        self.assertFalse(found("123456.7", saved))
        readme = "| slowest, ms | a |\n| --- | --- |\n| uvicorn | 123456.7 |\n"
        self.assertEqual(list(figures(readme)), [("uvicorn", "123456.7")])

    def test_every_figure_in_the_readme_is_saved_in_docs(self):
        """Each measured number in the READMEs' and the chapters' tables and
        bullets appears in docs/bench/ or docs/figures/."""
        saved = saved_numbers()
        for document in DOCUMENTS:
            text = document.read_text()
            with self.subTest(document.relative_to(BASE_DIR)):
                missing = [
                    (where, n) for where, n in figures(text) if not found(n, saved)
                ]
                self.assertEqual(missing, [])


class ChapterTests(SimpleTestCase):
    def test_every_chapter_is_linked_from_the_readme_in_order(self):
        """The README lists each chapter under docs/ once, and nothing else
        there: a new chapter cannot be left out of the reading order."""
        readme = (BASE_DIR / "README.md").read_text()
        order = readme.partition("## The chapters, in reading order")[2]
        linked = [link for link in LINK.findall(order) if link.startswith("docs/")]
        self.assertEqual(
            sorted(linked), [f"docs/{chapter.name}" for chapter in CHAPTERS]
        )

    def test_every_chapter_says_what_to_read_and_run(self):
        """Each chapter links back to the README and names the files to read
        and the commands to run before its text."""
        for chapter in CHAPTERS:
            with self.subTest(chapter.name):
                text = chapter.read_text()
                self.assertIn("](../README.md)", text)
                self.assertIn("**Read, in this order:**", text)
                self.assertIn("**Run:**", text)

    def test_every_relative_link_leads_to_a_file(self):
        """Links between the READMEs, the chapters and the saved outputs
        resolve, relative to the document that holds them."""
        for document in DOCUMENTS:
            for link in LINK.findall(document.read_text()):
                parts = urlsplit(link)
                if parts.scheme or not parts.path:
                    continue
                with self.subTest(document=document.name, link=link):
                    self.assertTrue((document.parent / parts.path).exists())
