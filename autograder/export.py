"""`export`: what the instructor takes away, all read from nbgrader's gradebook.

  grades.csv (--format csv)   one row per (assignment, student): total, max, score per
                  notebook, whether manual grading is still pending, status (reasons, "late
                  by X h", FLAGGED, "not submitted"), the student's name
  canvas.csv (--format canvas)  Canvas's gradebook import: one row per student with the
                  Canvas ids (ID = user id, SIS User ID, SIS Login ID from the roster), one
                  column per assignment named "Title (Canvas assignment id)" when the roster
                  (a Canvas gradebook export) gave the id, a "Points Possible" row first
  moodle.csv (--format moodle)  Moodle's grade import: one row per student keyed by the
                  roster's identifier ("ID number" or "Email address"), one column per assignment
  long.csv (--format long)    one row per (assignment, student, notebook, question)
  questions.csv   one row per autograded question: mean score, share with full marks (the
                  difficulty table: low share = hard question), over the students who
                  submitted that notebook and whose question is not waiting for a hand grade
  histogram_<assignment>.png   totals of the students who submitted something, x axis from 0
                  to the maximum, integer counts

Every format checks: a score above its maximum is reported and FLAGGED in the status.
Students come from the roster (`roster import`) and from submitted/; one who did not submit
an assignment is "not submitted": blank (default) or 0 with --missing zero, never "failed".
canvas and moodle refuse while hand grading is pending (--allow-pending writes the
autograded part anyway, with a warning); csv and long warn.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nbgrader.api import Gradebook

from .roster import load_roster

if TYPE_CHECKING:
    from .course import Course

    # a student's report file (course/autograder/reports/<assignment>/<student>.json):
    # notebook -> its entry (status, reason, flags...), as JSON
    _Report = dict[str, dict[str, Any]]
    # student -> assignment -> final score (None: not submitted, left blank)
    _PerStudent = Mapping[str, Mapping[str, float | None]]
    # {"roster": the imported roster (roster.json's JSON, {} without one), "names": id -> display name}
    _Lms = Mapping[str, Any]

FORMATS = ("csv", "canvas", "moodle", "long")
MISSING = ("blank", "zero")


def _reports(course: Course, assignment: str) -> dict[str, _Report]:
    folder = os.path.join(course.state_dir, "reports", assignment)
    out = {}
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".json"):
                with open(os.path.join(folder, name)) as f:
                    out[name[: -len(".json")]] = json.load(f)
    return out


def _missing(report: _Report, notebook: str) -> bool:
    entry = report.get(notebook)
    return entry is not None and entry["status"] == "failed" and entry["reason"].startswith("missing notebook")


def _status(report: _Report, extra: Iterable[str] = (), late: str = "") -> str:
    parts = [
        f"{notebook}: {entry['reason']}"
        for notebook, entry in sorted(report.items())
        if entry["status"] != "graded" and entry["reason"]
    ]
    parts += [late] if late else []
    flags = [f"{notebook}: {flag}" for notebook, entry in sorted(report.items()) for flag in entry.get("flags", [])]
    flags += list(extra)
    if flags:
        parts.insert(0, "FLAGGED " + "; ".join(flags))
    return "; ".join(parts) if parts else "ok"


def _fmt(x: float) -> str:
    return f"{x:g}"


def late_by(seconds: float) -> str:
    """'late by 3 h' (hours, one decimal below 10 h) for a late submission, else ''."""
    if not seconds:
        return ""
    hours = seconds / 3600
    return f"late by {hours:.1f} h" if hours < 10 else f"late by {hours:.0f} h"


def student_names(course: Course, roster: dict | None = None) -> dict[str, str]:
    """id -> display name: the roster's, else what `collect` read from the LMS file names."""
    names = {}
    path = os.path.join(course.state_dir, "students.json")
    if os.path.exists(path):
        with open(path) as f:
            names = {sid: info.get("name", "") for sid, info in json.load(f).items()}
    for sid, info in (roster or {}).get("students", {}).items():
        names[sid] = info.get("name", "") or names.get(sid, "")
    return names


def lateness_status(course: Course) -> list[str]:
    """Lines for `status`: each assignment's due date, its extensions, and the submissions
    that are late (as of the last `grade`) with their penalty."""
    lines = []
    dues, extensions = course.due_dates(), course.extensions()
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment, due in dues.items():
            lines.append(f"{assignment}: due {due.isoformat(sep=' ') + ' UTC' if due else '(no due date)'}")
            for student, hours in sorted(extensions.get(assignment, {}).items()):
                lines.append(f"  extension  {student}: +{hours:g} h")
            for submission in sorted(gb.find_assignment(assignment).submissions, key=lambda s: s.student_id):
                if submission.total_seconds_late:
                    penalty = submission.late_submission_penalty or 0.0
                    lines.append(
                        f"  late       {submission.student_id}: {late_by(submission.total_seconds_late)}, "
                        f"penalty {penalty:g} of {submission.score:g}"
                    )
    return lines or ["nothing released yet"]


def _pending_check(pending: list[str], fmt: str, allow_pending: bool, log: Callable[[str], object]) -> None:
    """Scores that still wait for hand grading are incomplete: an LMS import of them would
    look final to students, so canvas/moodle refuse unless the instructor says so."""
    if not pending:
        return
    listed = ", ".join(pending[:8]) + (f" and {len(pending) - 8} more" if len(pending) > 8 else "")
    text = f"{len(pending)} submission(s) still wait for hand grading (nbgrader formgrader): {listed}"
    if fmt in ("canvas", "moodle") and not allow_pending:
        raise SystemExit(
            f"not exported: {text}; their totals hold only the autograded part. Grade them first, or give "
            "--allow-pending to export the autograded part anyway"
        )
    log(f"WARNING: {text}; their scores are the autograded part only")


def _not_submitted_row(
    assignment: str, student: str, names: Mapping[str, str], maximum: float, missing: str
) -> dict[str, str]:
    """A grades.csv row for a student without a submission: "not submitted", blank or 0."""
    return {
        "assignment": assignment,
        "student": student,
        "name": names.get(student, ""),
        "score": "" if missing == "blank" else "0",
        "max_score": _fmt(maximum),
        "manual_pending": "false",
        "status": "not submitted",
    }


def export(
    course: Course,
    assignments: list[str],
    out: str | None = None,
    fmt: str = "csv",
    log: Callable[[str], object] = print,
    missing: str = "blank",
    allow_pending: bool = False,
) -> str:
    if fmt not in FORMATS:
        raise SystemExit(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if missing not in MISSING:
        raise SystemExit(f"unknown --missing {missing!r}; expected one of {', '.join(MISSING)}")
    out = out or os.path.join(course.state_dir, "export")
    os.makedirs(out, exist_ok=True)
    roster = load_roster(course)
    names = student_names(course, roster)
    everyone = set(course.students()) | set((roster or {}).get("students", {}))
    grade_rows: list[dict] = []
    question_rows: list[dict] = []
    long_rows: list[dict] = []
    totals: dict = {}
    maxima: dict = {}
    per_student: dict = {}
    over: list = []
    pending: list = []
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment in assignments:
            notebooks = course.notebooks(assignment)
            reports = _reports(course, assignment)
            totals[assignment] = []
            maxima[assignment] = gb.find_assignment(assignment).max_score
            submissions = sorted(gb.find_assignment(assignment).submissions, key=lambda s: s.student_id)
            for student in sorted(everyone - {s.student_id for s in submissions}):
                grade_rows.append(_not_submitted_row(assignment, student, names, maxima[assignment], missing))
                per_student.setdefault(student, {})[assignment] = None if missing == "blank" else 0.0
            for submission in submissions:
                student = submission.student_id
                report = reports.get(student, {})
                extra = []
                for nb in submission.notebooks:
                    for grade in nb.grades:
                        if grade.score is not None and grade.score > grade.max_score:
                            extra.append(
                                f"{nb.name}/{grade.name}: score {grade.score:g} above its maximum {grade.max_score:g}"
                            )
                        long_rows.append(
                            {
                                "assignment": assignment,
                                "student": student,
                                "notebook": nb.name,
                                "question": grade.name,
                                "score": "" if grade.score is None else _fmt(grade.score),
                                "max_score": _fmt(grade.max_score),
                                "needs_manual_grade": str(bool(grade.needs_manual_grade)).lower(),
                            }
                        )
                if submission.score > submission.max_score:
                    extra.append(f"total {submission.score:g} above the maximum {submission.max_score:g}")
                over.extend(f"{assignment}/{student}: {e}" for e in extra)
                # nbgrader keeps the late penalty beside the score; what the LMS gets is the difference
                penalty = submission.late_submission_penalty or 0.0
                final = submission.score - penalty
                if submission.needs_manual_grade:
                    pending.append(f"{assignment}/{student}")
                row = {
                    "assignment": assignment,
                    "student": student,
                    "name": names.get(student, ""),
                    "score": _fmt(final),
                    "max_score": _fmt(submission.max_score),
                    "late_penalty": _fmt(penalty),
                }
                row["notebooks"] = ";".join(
                    f"{nb}={_fmt(gb.find_submission_notebook(nb, assignment, student).score)}" for nb in notebooks
                )
                row["manual_pending"] = str(submission.needs_manual_grade).lower()
                row["status"] = _status(report, extra, late_by(submission.total_seconds_late))
                grade_rows.append(row)
                per_student.setdefault(student, {})[assignment] = final
                if not all(_missing(report, nb) for nb in notebooks):  # a non-submitter is not a zero
                    totals[assignment].append(final)
            for notebook in gb.find_assignment(assignment).notebooks:
                autograded = [c for c in notebook.grade_cells if c.cell_type == "code"]  # tests, not hand-graded
                for cell in sorted(autograded, key=lambda c: c.name):
                    scores = [
                        g.score
                        for g in cell.grades
                        if g.score is not None
                        and not g.needs_manual_grade
                        and not _missing(reports.get(g.notebook.assignment.student_id, {}), notebook.name)
                    ]
                    full = sum(s >= cell.max_score for s in scores)
                    question_rows.append(
                        {
                            "assignment": assignment,
                            "notebook": notebook.name,
                            "question": cell.name,
                            "max_points": _fmt(cell.max_score),
                            "submissions": len(scores),
                            "mean_score": f"{sum(scores) / len(scores):.3f}" if scores else "",
                            "full_marks_share": f"{full / len(scores):.3f}" if scores else "",
                        }
                    )
    _pending_check(pending, fmt, allow_pending, log)
    lms = {"roster": roster or {}, "names": names}
    written = _write_grades(out, fmt, assignments, grade_rows, long_rows, per_student, maxima, lms, log)
    question_rows.sort(key=lambda r: (r["assignment"], r["notebook"], r["question"]))
    _write_csv(
        os.path.join(out, "questions.csv"), list(question_rows[0]) if question_rows else ["question"], question_rows
    )
    for assignment, scores in totals.items():
        _histogram(scores, maxima[assignment], assignment, os.path.join(out, f"histogram_{assignment}.png"))
    for line in over:
        log(f"  FLAGGED {line}")
    log(f"wrote {written}, {out}/questions.csv ({len(question_rows)} questions), histogram_<assignment>.png")
    return out


def _cell(per_student: _PerStudent, student: str, assignment: str) -> str:
    score = per_student[student].get(assignment)
    return "" if score is None else _fmt(score)


def _write_grades(
    out: str,
    fmt: str,
    assignments: Sequence[str],
    grade_rows: Sequence[Mapping[str, object]],
    long_rows: Sequence[Mapping[str, object]],
    per_student: _PerStudent,
    maxima: Mapping[str, float],
    lms: _Lms,
    log: Callable[[str], object],
) -> str:
    if fmt == "csv":
        path = os.path.join(out, "grades.csv")
        _write_csv(
            path,
            [
                "assignment",
                "student",
                "score",
                "max_score",
                "notebooks",
                "manual_pending",
                "status",
                "late_penalty",
                "name",
            ],
            grade_rows,
        )
    elif fmt == "long":
        path = os.path.join(out, "long.csv")
        _write_csv(
            path,
            ["assignment", "student", "notebook", "question", "score", "max_score", "needs_manual_grade"],
            long_rows,
        )
    elif fmt == "canvas":
        path = _write_canvas(out, assignments, per_student, maxima, lms, log)
    else:
        path = _write_moodle(out, assignments, per_student, lms, log)
    return f"{path} ({len(per_student)} students)"


def _write_canvas(
    out: str,
    assignments: Sequence[str],
    per_student: _PerStudent,
    maxima: Mapping[str, float],
    lms: _Lms,
    log: Callable[[str], object],
) -> str:
    """Canvas's gradebook import, as its export writes it ("How do I import grades in the
    Gradebook?", Canvas Instructor Guide; e.g. https://teaching.resources.osu.edu/toolsets/
    carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades): the columns
    Student, ID, SIS User ID, SIS Login ID, Section, then one per assignment, named
    "Title (assignment id)" to update that assignment (a bare title creates a new one); a
    "Points Possible" row; Canvas finds the student by ID, else SIS User ID, else SIS Login
    ID.  An empty cell leaves Canvas's grade as it is."""
    roster = lms["roster"]
    students = roster.get("students", {})
    ids = roster.get("assignments", {})
    path = os.path.join(out, "canvas.csv")
    unmatched = []
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
            + [f"{a} ({ids[a]})" if a in ids else a for a in assignments]
        )
        writer.writerow(["    Points Possible", "", "", "", ""] + [_fmt(maxima[a]) for a in assignments])
        for student in sorted(per_student):
            info = students.get(student, {})
            canvas_id = student if student.isdigit() else ""
            if not canvas_id and not info.get("sis_user_id") and not info.get("sis_login_id"):
                unmatched.append(student)
            writer.writerow(
                [
                    info.get("name") or lms["names"].get(student) or student,
                    canvas_id,
                    info.get("sis_user_id", ""),
                    info.get("sis_login_id", ""),
                    info.get("section", ""),
                ]
                + [_cell(per_student, student, a) for a in assignments]
            )
    if unmatched:
        log(
            f"WARNING: canvas.csv: {len(unmatched)} student(s) without a Canvas id (collected from "
            f"files not named by Canvas, and not in a Canvas roster): Canvas will not match {', '.join(unmatched)}"
        )
    missing_ids = [a for a in assignments if a not in ids]
    if missing_ids:
        log(
            f"note: canvas.csv: no Canvas assignment id for {', '.join(missing_ids)} (`roster import` a Canvas "
            "gradebook export to get them): Canvas makes a new assignment column for each"
        )
    return path


def _write_moodle(
    out: str, assignments: Sequence[str], per_student: _PerStudent, lms: _Lms, log: Callable[[str], object]
) -> str:
    """Moodle's CSV grade import (Grades > Import > CSV file, moodle grade/import/csv): a
    header row, one identifier column that the import maps to a user field ("Map from" ->
    "Map to": ID number, email address, username or user id), one column per grade item."""
    roster = lms["roster"]
    identifier = roster.get("identifier", "ID number") if roster.get("lms") == "moodle" else "ID number"
    path = os.path.join(out, "moodle.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([identifier] + list(assignments))
        for student in sorted(per_student):
            writer.writerow([student] + [_cell(per_student, student, a) for a in assignments])
    if roster.get("lms") != "moodle":
        log(
            "note: moodle.csv: no Moodle roster imported; the first column holds our student ids (map it to the "
            "user field they are, or `roster import` Moodle's participants export)"
        )
    return path


def _write_csv(path: str, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def whole_point_bins(top: float, most: int = 40) -> list[float]:
    """Bin edges centred on whole points (-0.5, 0.5, ...): a score of 7 is counted at 7,
    never split between bins; wider whole-point bins above `most` points."""
    width = max(1, math.ceil((math.ceil(top) + 1) / most))
    return [edge - 0.5 for edge in range(0, math.ceil(top) + width + 1, width)]


def _histogram(scores: Sequence[float], maximum: float, assignment: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    top = max(maximum, max(scores, default=0), 1)
    ax.hist(scores, bins=whole_point_bins(top), color="#4477aa", edgecolor="white")
    ax.set_xlim(-0.5, math.ceil(top) + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"total score (out of {maximum:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{assignment}: {len(scores)} students who submitted")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
