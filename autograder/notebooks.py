"""Reading a submission defensively and rebuilding the notebook that gets executed.

The executed notebook is built from the instructor's notebooks, never trusted from
the submission: cells are matched by nbgrader grade id (like nbgrader's
OverwriteCells), so
  * answer cells (nbgrader `solution`) take the student's text,
  * test cells and locked cells take the SOURCE text (hidden tests included: they
    exist only here, at grade time) whatever the student did to them,
  * cells that are in the source order, whatever order the submission has,
  * deleted cells come back (an answer cell comes back as the release's stub),
  * a duplicated grade id (a pasted answer cell): the last copy before that
    question's tests is graded, other copies are dropped (unlike nbgrader's
    DeduplicateIds, which runs them as plain cells: a copy placed after the tests
    could then change what is graded), and the report says which copy counted;
  * the student's extra cells are kept after the graded cell they followed.
Every repair is written down in `notes`, which end up in the report.
"""

from __future__ import annotations

import copy
import hashlib
import json

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

MAX_NOTEBOOK_BYTES = 20 * 1024**2


class BadSubmission(Exception):
    """The file cannot be graded at all; the message says why (goes to the report)."""


def file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_submission(path: str) -> NotebookNode:
    """Parse a submitted .ipynb or raise BadSubmission with a reason a student understands."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    except FileNotFoundError:
        raise BadSubmission("missing notebook: nothing was submitted under this name") from None
    if not raw:
        raise BadSubmission("empty file (0 bytes): the notebook was not saved before submitting")
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise BadSubmission(f"file larger than {MAX_NOTEBOOK_BYTES // 1024**2} MB: not graded")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadSubmission("not a text file (not UTF-8): this is not a Jupyter notebook") from None
    except json.JSONDecodeError as exc:
        raise BadSubmission(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg} "
            "(the file was edited outside Jupyter or truncated)"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise BadSubmission("valid JSON but not a Jupyter notebook (no list of cells)")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # noqa: BLE001  nbformat raises many kinds
        raise BadSubmission(f"not a readable Jupyter notebook: {exc}") from None
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            raise BadSubmission("a cell's source is not text: not a valid Jupyter notebook")
    return nb


def grade_id(cell: NotebookNode) -> str | None:
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def is_answer(cell: NotebookNode) -> bool:
    """A cell the student writes (nbgrader's solution cell)."""
    return bool(nbgrader_utils.is_solution(cell))


def is_test(cell: NotebookNode) -> bool:
    """An autograded test: a grade cell that is code and not itself an answer."""
    return cell.cell_type == "code" and bool(nbgrader_utils.is_grade(cell)) and not nbgrader_utils.is_solution(cell)


def build_graded_notebook(
    source_nb: NotebookNode, release_nb: NotebookNode, student_nb: NotebookNode
) -> tuple[NotebookNode, list[str]]:
    """Return (notebook to execute, notes). Metadata (points, checksums) comes from the
    release; test/locked text from the source; answers from the student."""
    notes = []
    release_by_id = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    source_ids = [grade_id(c) for c in source_nb.cells if grade_id(c)]
    plain_ids = {c.get("id") for c in source_nb.cells if not grade_id(c) and c.get("id")}
    student_plain = {}

    # A pasted answer cell (JupyterLab copies the nbgrader metadata along) is a second
    # cell with the same grade id.  The copy the student saw run last before that
    # question's tests is the one that counts: the LAST copy placed before the first
    # test/locked cell that follows the answer in the source (all copies if the tests
    # were deleted).  Copies after the tests are never run: there they could redefine
    # the answer behind the tests' back.
    following_test = _following_locked(source_nb)
    student_positions: dict[str | None, list[int]] = {}
    for position, cell in enumerate(student_nb.cells):
        student_positions.setdefault(grade_id(cell), []).append(position)
    chosen: dict[str | None, int] = {}
    for gid, positions in student_positions.items():
        if gid is None or gid not in source_ids:  # source_ids holds no None: the same test, typed
            continue
        limit = min((p for t in following_test.get(gid, ()) for p in student_positions.get(t, [])), default=None)
        before = [p for p in positions if limit is None or p < limit]
        chosen[gid] = before[-1] if before else positions[0]
        if len(positions) > 1:
            which = positions.index(chosen[gid]) + 1
            notes.append(
                f"duplicated cell {gid} ({len(positions)} copies): graded copy {which} of "
                f"{len(positions)}, the last one before its test"
            )

    student_by_id: dict = {}
    extras_after: dict = {}
    anchor = None
    for position, cell in enumerate(student_nb.cells):
        gid = grade_id(cell)
        if gid in source_ids and chosen.get(gid) == position:
            student_by_id[gid] = cell
            anchor = gid
        elif gid is None and cell.get("id") in plain_ids and cell.id not in student_plain:
            student_plain[cell.id] = cell  # an unlocked instructor cell: the student's copy
        elif gid in source_ids:  # an unused copy: never executed
            continue
        else:
            extra = copy.deepcopy(cell)
            extra.metadata.pop("nbgrader", None)
            extras_after.setdefault(anchor, []).append(extra)
    submitted_order = [grade_id(c) for c in student_nb.cells if grade_id(c) in source_ids]
    deduped = list(dict.fromkeys(submitted_order))
    if deduped != [g for g in source_ids if g in deduped]:
        notes.append("cells were reordered: graded in the original order")

    cells = list(extras_after.get(None, []))
    edited, missing_answers, missing_locked = [], [], []
    for source_cell in source_nb.cells:
        gid = grade_id(source_cell)
        if gid is None:  # unlocked plain cell: the student's copy if they kept it
            plain = copy.deepcopy(student_plain.get(source_cell.get("id"), source_cell))
            if plain.cell_type == "code":
                plain.outputs, plain.execution_count = [], None
            cells.append(plain)
            continue
        release_cell = release_by_id.get(gid, source_cell)
        cell = copy.deepcopy(release_cell)
        submitted = student_by_id.get(gid)
        if is_answer(source_cell):
            if submitted is None:
                missing_answers.append(gid)
            else:
                cell.source = submitted.source
        else:
            cell.source = source_cell.source
            if submitted is None:
                missing_locked.append(gid)
            elif (
                submitted.source.strip() != release_cell.source.strip() or submitted.cell_type != release_cell.cell_type
            ):
                edited.append(gid)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
        cells.extend(extras_after.get(gid, []))
    if edited:
        notes.append(f"edited test/locked cell(s) {', '.join(edited)}: restored from the source")
    if missing_locked:
        notes.append(f"deleted test/locked cell(s) {', '.join(missing_locked)}: restored from the source")
    if missing_answers:
        notes.append(f"deleted answer cell(s) {', '.join(missing_answers)}: graded as unanswered")
    graded = copy.deepcopy(release_nb)
    graded.cells = cells
    return graded, notes


def _following_locked(source_nb: NotebookNode) -> dict[str, list[str]]:
    """answer grade id -> grade ids of the test/locked cells after it, up to the next answer."""
    following: dict[str, list[str]] = {}
    current = None
    for cell in source_nb.cells:
        gid = grade_id(cell)
        if gid is None:
            continue
        if is_answer(cell):
            current = gid
            following[gid] = []
        elif current is not None:
            following[current].append(gid)
    return following


def split_hidden_tests(source: str) -> tuple[str, list[str]]:
    """(source without its `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` blocks, markers
    included; the hidden lines).  The one parser of the markers: grading, feedback and the
    leak scrubber read them through it."""
    kept, hidden_lines, hidden = [], [], False
    for line in source.splitlines(keepends=True):
        marker = line.strip().upper()
        if marker.startswith("### BEGIN HIDDEN TESTS"):
            hidden = True
        elif marker.startswith("### END HIDDEN TESTS"):
            hidden = False
        elif hidden:
            hidden_lines.append(line.rstrip("\n"))
        else:
            kept.append(line)
    return "".join(kept).rstrip("\n"), hidden_lines


def strip_hidden_tests(source: str) -> str:
    """Remove `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` blocks (markers included)."""
    return split_hidden_tests(source)[0]


def has_hidden_tests(source: str) -> bool:
    return "### BEGIN HIDDEN TESTS" in source.upper()
