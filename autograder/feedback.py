"""`feedback`: nbgrader's own GenerateFeedback, with one preprocessor in front that
removes hidden tests (nbgrader leaks them into feedback: its issues 917 and 1363).

What StripHiddenTests removes from every autograded notebook before it becomes HTML:
  * the `### BEGIN/END HIDDEN TESTS` blocks in test cells;
  * the outputs of test cells that had hidden tests: tracebacks quote the failing
    line, and a hostile hook can print the cell's source.  A failure becomes one
    line "<error name>: <message>", or "a hidden test failed" if the message comes
    from the hidden part;
  * in ALL outputs, any line that quotes a hidden-test line or one of its string
    literals (a student's function can read its caller's frame while a test runs and
    print it later), and any whole output that does so encoded: rot13, reversed,
    base64 or hex (`decodings`).  The kernel's own history never holds hidden tests
    (test cells run with store_history=False, linecache is purged after each).
What it keeps: text that is also in what students were given (the released notebook, the
normlab library) is not secret, so a visible check's message naming `pre_norm_sublayer`
stays; explanations written for students (the values of the `why=` and `mistakes=`
mappings handed to normlab's checks in a hidden test) are shown with the failure; a test
cell's printed lines (partial credit: what was missed) are kept; every summary names its
question.  Escape codes (colours) are removed from tracebacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from nbformat import NotebookNode

if TYPE_CHECKING:
    from .course import Course

import ast
import base64
import binascii
import codecs
import html
import importlib.util
import json
import os
import re
import subprocess
import textwrap
import zipfile

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets import Unicode

from .kernel.client import strip_ansi
from .notebooks import has_hidden_tests, split_hidden_tests, strip_hidden_tests

REMOVED = "[hidden test text removed]"


_STRING = re.compile(r"""(?:'([^'\\\n]{8,})'|"([^"\\\n]{8,})")""")
_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
_HEX = re.compile(r"\b[0-9a-fA-F]{16,}\b")


EXPLANATION_ARGS = ("why", "mistakes")  # normlab checks' arguments that hold text for students


def _fragments(hidden_lines: list[str], given: str = "", explanations: Sequence[str] = ()) -> list[str]:
    """What counts as quoting a hidden test: any of its lines, or any string literal in it
    (a student function can read its caller's constants: the hidden assert messages);
    except text that students were `given` anyway and the pieces of `explanations`."""
    fragments = set(hidden_lines)
    for line in hidden_lines:
        for match in _STRING.finditer(line):
            fragments.add(match.group(1) or match.group(2))
    return sorted(
        (f for f in fragments if f not in given and not any(f in e for e in explanations)), key=len, reverse=True
    )


def explanations_for_students(hidden_sources: Iterable[str]) -> list[str]:
    """The explanations a hidden test holds for students: the string values of the `why=`
    and `mistakes=` mappings it hands to normlab's checks (expect_choice, expect_order,
    selection_credit).  Hidden code that does not parse on its own has none."""
    found: set = set()
    for source in hidden_sources:
        try:
            tree = ast.parse(textwrap.dedent(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg in EXPLANATION_ARGS and isinstance(keyword.value, ast.Dict):
                    found.update(
                        v.value
                        for v in keyword.value.values
                        if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value.strip()
                    )
    return sorted(found, key=len, reverse=True)


def given_text(release_notebook: str) -> str:
    """What students were given, hence not secret: the released notebook's cells and the
    normlab library's source (their checks' messages)."""
    parts = []
    if release_notebook and os.path.exists(release_notebook):
        nb = nbformat.read(release_notebook, as_version=4)
        parts += [cell.source for cell in nb.cells]
    spec = importlib.util.find_spec("normlab")
    for folder in spec.submodule_search_locations if spec and spec.submodule_search_locations else []:
        for root, _, files in os.walk(folder):
            for name in sorted(files):
                if name.endswith(".py"):
                    with open(os.path.join(root, name), encoding="utf-8") as f:
                        parts.append(f.read())
    return "\n".join(parts)


def decodings(text: str) -> list[str]:
    """`text` as it reads once decoded the ways a student could smuggle hidden tests out:
    as is, rot13, reversed, base64 runs (standard and url-safe) and hex runs."""
    found = [text, codecs.decode(text, "rot13"), text[::-1]]
    for run in _BASE64.findall(text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                found.append(decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
            except (ValueError, binascii.Error):
                pass
    for run in _HEX.findall(text):
        found.append(bytes.fromhex(run[: len(run) // 2 * 2]).decode("utf-8", "replace"))
    return found


def _leaks(text: str, fragments: Sequence[str]) -> bool:
    return any(f in decoded for decoded in decodings(text) for f in fragments)


def _scrub(text: str, hidden: Sequence[str]) -> str:
    text = "\n".join(REMOVED if any(h in line for h in hidden) else line for line in text.split("\n"))
    if _leaks(text, hidden):  # an encoded copy: the whole output goes
        return REMOVED + " (an output that encodes hidden test text)\n"
    return text


class StripHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests, and anything quoting them, from an autograded notebook."""

    release_dir = Unicode("", help="course/release: the notebooks students were given").tag(config=True)

    def _release_notebook(self, resources: dict) -> str:
        info = resources.get("nbgrader", {})
        if not self.release_dir or "assignment" not in info:
            return ""
        return os.path.join(self.release_dir, info["assignment"], info["notebook"] + ".ipynb")

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        blocks = [split_hidden_tests(cell.source)[1] for cell in nb.cells if has_hidden_tests(cell.source)]
        explanations = explanations_for_students("\n".join(block) for block in blocks)
        lines = [line.strip() for block in blocks for line in block if len(line.strip()) >= 6]
        hidden = _fragments(lines, given_text(self._release_notebook(resources)), explanations)
        for cell in nb.cells:
            if cell.cell_type == "code" and has_hidden_tests(cell.source):
                cell.outputs = self._summarise(cell, hidden)
            if has_hidden_tests(cell.source):
                cell.source = strip_hidden_tests(cell.source) + "\n# (hidden tests were run here)"
            for output in cell.get("outputs", []):
                self._scrub_output(output, hidden)
        return nb, resources

    @staticmethod
    def _summarise(cell: NotebookNode, hidden: Sequence[str]) -> list[NotebookNode]:
        """The test cell's outputs as lines that name its question: the failure's message
        (or "a hidden test failed" when the message is the hidden test's own), else what
        the cell printed (partial credit: what was missed) and the points it returned."""
        question = cell.metadata.get("nbgrader", {}).get("grade_id") or "test"
        for output in cell.outputs:
            if output.output_type == "error":
                message = strip_ansi(f"{output.ename}: {output.evalue}")
                if any(h in message for h in hidden) or any(output.evalue and output.evalue in h for h in hidden):
                    message = "a hidden test failed"
                return [_stdout(f"{question}: {message}\n")]
        printed = "".join(strip_ansi(o.text) for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        points = results[-1].data.get("text/plain", "") if results else ""
        summary = f"{question}: " + (f"partial credit, {points} point(s)" if points else "passed")
        return [_stdout(printed + summary + "\n")] if printed or points else []

    @staticmethod
    def _scrub_output(output: NotebookNode, hidden: Sequence[str]) -> None:
        if output.get("output_type") == "stream":
            output["text"] = _scrub(output["text"], hidden)
        elif output.get("output_type") == "error":
            output["evalue"] = _scrub(output["evalue"], hidden)
            output["traceback"] = [_scrub(strip_ansi(line), hidden) for line in output["traceback"]]
        elif "data" in output:
            for mime, value in output["data"].items():
                if isinstance(value, str) and mime.startswith("text/"):
                    output["data"][mime] = _scrub(value, hidden)


class MarkPendingHandGrades(NbGraderPreprocessor):
    """After nbgrader's GetGrades: an answer that waits for a hand grade says so (its 0 is
    not a grade yet), and so does the top of the page, with the points still to come."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"], "normlab") as gb:
            notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            pending = {g.name: g.max_score for g in notebook.grades if g.needs_manual_grade}
        if not pending:
            return nb, resources
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in pending:
                cells.append(_note(f"**Pending hand grading** ({pending[gid]:g} points): not in the score yet."))
        total = sum(pending.values())
        top = f"**Not final**: {total:g} points wait for hand grading ({len(pending)} answers marked below)."
        nb.cells = [_note(top)] + cells
        return nb, resources


def _note(text: str) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(text, metadata={"autograder": "note"})


WRAP_CSS = "<style>pre, .output_text pre { white-space: pre-wrap; overflow-wrap: anywhere; }</style>"


def wrap_long_lines(page: str) -> None:
    """Long messages wrap instead of scrolling sideways (nbconvert's CSS keeps `pre` lines)."""
    with open(page, encoding="utf-8") as f:
        text = f.read()
    if WRAP_CSS not in text and "</head>" in text:
        with open(page, "w", encoding="utf-8") as f:
            f.write(text.replace("</head>", WRAP_CSS + "\n</head>", 1))


def _stdout(text: str) -> NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def feedback(
    course: Course, assignments: list[str], log: Callable[[str], object] = print, lms: str | None = None
) -> None:
    from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: F401  (nbgrader default order)
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course.nbgrader_config()
    config.GenerateFeedback.preprocessors = [
        StripHiddenTests,
        GetGrades,
        MarkPendingHandGrades,
        CSSHTMLHeaderPreprocessor,
    ]
    config.StripHiddenTests.release_dir = course.path("release")
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    for assignment in assignments:
        result = api.generate_feedback(assignment, force=True)
        if not result["success"]:
            raise SystemExit(f"nbgrader generate_feedback {assignment} failed:\n{result['error']}\n{result['log']}")
        _pages_for_ungradable(course, assignment)
        folder = course.path("feedback")
        pages = [os.path.join(folder, student, assignment) for student in os.listdir(folder)]
        html_pages = [
            os.path.join(page_dir, f)
            for page_dir in pages
            if os.path.isdir(page_dir)
            for f in os.listdir(page_dir)
            if f.endswith(".html")
        ]  # this assignment's pages only
        for page in html_pages:
            wrap_long_lines(page)
        _typeset_maths(html_pages, log)
        count = len(html_pages)
        log(f"feedback for {assignment}: {count} HTML file(s) under {folder}/<student>/{assignment}/")
        if lms:
            lms_feedback_zip(course, assignment, lms, log=log)


def _typeset_maths(pages: list[str], log: Callable[[str], object]) -> None:
    """Maths as static SVG (autograder.maths), so it reads offline; else say why not."""
    from . import maths

    why = maths.unavailable()
    if why:
        log(f"  note: maths in the pages still needs MathJax from its CDN: {why}")
        return
    try:
        maths.render_pages(pages)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log(f"  note: maths left for MathJax from its CDN: {exc}")


LMS_UPLOADS = {
    "canvas": "Canvas: the assignment's Re-Upload Submissions (files keep their download names)",
    "moodle": "Moodle: View all submissions > Upload multiple feedback files in a zip",
}


def lms_feedback_zip(course: Course, assignment: str, lms: str, log: Callable[[str], object] = print) -> str:
    """course/feedback/<assignment>-<lms>-feedback.zip: every feedback page of `assignment`
    named with its submission's download prefix (Canvas "<name>_<user id>_<submission id>_",
    Moodle "<Full Name>_<participant id>_assignsubmission_file_"), which is what the LMS's
    bulk feedback upload matches on.  Pages of students not collected from that LMS are
    listed, not guessed.  Returns the zip's path."""
    from .collect import lms_names_path

    if lms not in LMS_UPLOADS:
        raise SystemExit(f"unknown --lms {lms!r}; expected one of {', '.join(LMS_UPLOADS)}")
    path = course.path("feedback", f"{assignment}-{lms}-feedback.zip")
    written, skipped = 0, []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for student in sorted(os.listdir(course.path("feedback"))):
            folder = course.path("feedback", student, assignment)
            if not os.path.isdir(folder):
                continue
            names = {}
            if os.path.exists(lms_names_path(course, student, assignment)):
                with open(lms_names_path(course, student, assignment)) as f:
                    names = json.load(f)
            for page in sorted(f for f in os.listdir(folder) if f.endswith(".html")):
                notebook = page[: -len(".html")]
                entry = names.get(notebook)
                if not entry or entry["lms"] != lms:
                    skipped.append(f"{student}/{notebook}")
                    continue
                archive.write(os.path.join(folder, page), f"{entry['prefix']}{notebook}-feedback.html")
                written += 1
    log(f"{path}: {written} feedback page(s) for {LMS_UPLOADS[lms]}")
    if skipped:
        log(f"  not in the zip (not collected from a {lms} download): {', '.join(skipped)}")
    return path


def _pages_for_ungradable(course: Course, assignment: str) -> None:
    """nbgrader writes feedback only for autograded notebooks; a student whose file was
    missing, empty or not valid JSON still gets a page saying why the score is 0."""
    folder = os.path.join(course.state_dir, "reports", assignment)
    if not os.path.isdir(folder):
        return
    for name in sorted(os.listdir(folder)):
        student = name[: -len(".json")]
        with open(os.path.join(folder, name)) as f:
            report = json.load(f)
        for notebook, entry in report.items():
            if os.path.exists(course.autograded_notebook(student, assignment, notebook)):
                continue
            page = course.path("feedback", student, assignment, notebook + ".html")
            os.makedirs(os.path.dirname(page), exist_ok=True)
            with open(page, "w") as f:
                f.write(
                    f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(notebook)}</title>"
                    f"</head><body><h1>{html.escape(assignment)} / {html.escape(notebook)}</h1>"
                    f"<p>Score: {entry['score']:g} / {entry['max_score']:g}</p>"
                    f"<p>This notebook could not be graded: {html.escape(entry['reason'])}</p></body></html>\n"
                )
