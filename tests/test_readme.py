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


def chapter_order(readme):
    """The chapters the README lists under its two reading-order headings."""
    order = readme.partition("## The lessons, in reading order")[2]
    order = order.partition("## Map of the repository")[0]
    return [
        link
        for line in order.splitlines()
        if re.match(r"\d+\. \[", line)
        for link in LINK.findall(line)[:1]
    ]


def reading_list(chapter):
    """The files a chapter's "Read, in this order" list names, in order."""
    listed = chapter.partition("**Read, in this order:**")[2].partition("**Run:**")[0]
    return [
        path.strip("`")
        for line in listed.splitlines()
        if line.startswith("1. ")
        for path in re.findall(r"`([\w/.]+\.\w+)`", line)
    ]


FIRST_ASYNC_VIEW = re.compile(r"^async def \w+\(request\b", re.MULTILINE)


def lines_before_first_async_view(readme, read):
    """How many lines a newcomer reads, from the README's top, before the
    first `async def` view: the README down to the first lesson's link, that
    chapter down to its reading list, then each file it lists in turn, down
    to the first async view in one. `read(path)` gives a file's text."""
    lines = readme.splitlines()
    at = lines.index("## The lessons, in reading order")
    first = next(i for i in range(at, len(lines)) if LINK.search(lines[i]))
    count = first + 1
    chapter = read(LINK.search(lines[first]).group(1))
    count += chapter.partition("**Read, in this order:**")[0].count("\n") + 1
    for path in reading_list(chapter):
        text = read(path)
        found = FIRST_ASYNC_VIEW.search(text)
        if found:
            return count + text[: found.start()].count("\n") + 1
        count += text.count("\n")
    return None


def from_the_tree(path):
    for base in (BASE_DIR, BASE_DIR / "docs"):
        if (base / path).is_file():
            return (base / path).read_text()
    raise FileNotFoundError(path)


class ReadingOrderTests(SimpleTestCase):
    def test_the_first_async_view_comes_within_150_lines(self):
        """Following the README from its top, and the first chapter's reading
        list, a newcomer meets an `async def` view within 150 lines."""
        readme = (BASE_DIR / "README.md").read_text()
        lines = lines_before_first_async_view(readme, from_the_tree)
        self.assertIsNotNone(lines)
        self.assertLessEqual(lines, 150)

    def test_machinery_first_breaks_the_bound(self):
        """The control: a first chapter that lists the ASGI layer and the
        handler before the views, as this project's did, is over the bound."""
        readme = (BASE_DIR / "README.md").read_text()
        machinery_first = (
            "# Serving\n\n**Read, in this order:**\n\n"
            "1. `mysite/asgi.py`\n"
            "1. `leanasgi/src/leanasgi/handler.py`\n"
            "1. `aggregator/views.py`\n\n**Run:**\n"
        )

        def read(path):
            return machinery_first if path.startswith("docs/") else from_the_tree(path)

        self.assertGreater(lines_before_first_async_view(readme, read), 150)

    def test_the_fan_out_to_write_is_three_files_under_300_lines(self):
        """The fan-out chapter's lesson is its first three files, and they are
        at most 300 lines together: the quote, the bounded way, its Results."""
        chapter = (BASE_DIR / "docs" / "fan-out.md").read_text()
        lesson = reading_list(chapter)[:3]
        self.assertEqual(
            lesson,
            ["aggregator/quote.py", "aggregator/bounded.py", "aggregator/results.py"],
        )
        bounded = [from_the_tree(path) for path in lesson[1:]]
        self.assertLessEqual(sum(text.count("\n") for text in bounded), 300)


class ChapterTests(SimpleTestCase):
    def test_every_chapter_is_linked_from_the_readme_in_order(self):
        """The README lists each chapter under docs/ once, lessons first and
        the machinery under the hood: a new chapter cannot be left out."""
        readme = (BASE_DIR / "README.md").read_text()
        linked = chapter_order(readme)
        self.assertEqual(
            sorted(linked), [f"docs/{chapter.name}" for chapter in CHAPTERS]
        )
        lessons = readme.partition("## Under the hood")[0]
        self.assertIn(linked[0], lessons)
        self.assertEqual(linked[0], "docs/first-async-view.md")

    def test_every_module_is_on_the_map(self):
        """The README's map names every Python module of the site, the
        harness, the benchmark and the deployment under its own folder."""
        readme = (BASE_DIR / "README.md").read_text()
        the_map = readme.partition("## Map of the repository")[2]
        sections, folder = {}, None
        for line in the_map.splitlines():
            if re.match(r"[\w.]+/ ", line):
                folder = line.split("/")[0]
            if folder:
                sections[folder] = sections.get(folder, "") + line + "\n"
        missing = []
        for folder in ["mysite", "aggregator", "blog", "lab", "answers", "harness"]:
            for path in sorted((BASE_DIR / folder).rglob("*.py")):
                if "migrations" in path.parts or path.name == "__init__.py":
                    continue
                if not re.search(rf"\b{path.name}\b", sections.get(folder, "")):
                    missing.append(path.relative_to(BASE_DIR).as_posix())
        for folder in ["bench", "deploy"]:
            for path in sorted((BASE_DIR / folder).glob("*.py")):
                if path.name != "__init__.py" and path.name not in sections[folder]:
                    missing.append(path.relative_to(BASE_DIR).as_posix())
        self.assertEqual(missing, [])

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


SITE_URL = re.compile(r"http://127\.0\.0\.1:8000(/[^\s\"'`)>]*)")
SITE_PATH = re.compile(r"`((?:/aggregator|/api|/blog|/lab)/[^`\s]*)`")


def documented_paths():
    """(document, path) for every URL of this site the documents give."""
    for document in DOCUMENTS:
        text = document.read_text()
        for path in {*SITE_URL.findall(text), *SITE_PATH.findall(text)}:
            if "<" not in path and "{" not in path:
                yield document.name, path.rstrip(".,")


class DocumentedUrlTests(SimpleTestCase):
    def test_every_documented_url_exists(self):
        """Every URL of this site in the READMEs and the chapters resolves: a
        renamed view cannot leave a command behind that answers 404."""
        from django.urls import Resolver404, resolve

        paths = list(documented_paths())
        self.assertGreater(len(paths), 30)
        for document, path in paths:
            with self.subTest(document=document, path=path):
                try:
                    resolve(urlsplit(path).path)
                except Resolver404:
                    self.fail(f"{path} in {document} is no URL of this site")

    def test_the_stream_pitfall_commands_answer(self):
        """The stream pitfall's documented URLs carry the parameters the view
        requires: as written (with no pause between lines) each answers 200."""
        chapter = (BASE_DIR / "docs" / "pitfalls.md").read_text()
        streams = sorted(
            set(re.findall(r"/aggregator/pitfalls/stream-\w+/\?[^`]+", chapter))
        )
        self.assertEqual(len(streams), 2)
        for path in streams:
            with self.subTest(path):
                response = self.client.get(path.replace("every=0.5", "every=0"))
                self.assertEqual(response.status_code, 200)
