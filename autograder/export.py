"""`export`: what the instructor takes away, all read from nbgrader's gradebook.

  grades.csv (--format csv)   one row per (assignment, student): total, max, score per
                  notebook, whether manual grading is still pending, status (reasons, FLAGGED)
  canvas.csv (--format canvas)  Canvas's gradebook import: one row per student, one column
                  per assignment, a "Points Possible" row first
  moodle.csv (--format moodle)  Moodle's grade import: one row per student keyed by the
                  "ID number" column, one column per assignment
  long.csv (--format long)    one row per (assignment, student, notebook, question)
  questions.csv   one row per autograded question: mean score, share with full marks (the
                  difficulty table: low share = hard question), over the students who
                  submitted that notebook and whose question is not waiting for a hand grade
  histogram_<assignment>.png   totals of the students who submitted something, x axis from 0
                  to the maximum, integer counts

Every format checks: a score above its maximum is reported and FLAGGED in the status.
"""

import csv
import json
import os

from nbgrader.api import Gradebook

FORMATS = ("csv", "canvas", "moodle", "long")


def _reports(course, assignment):
    folder = os.path.join(course.state_dir, "reports", assignment)
    out = {}
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".json"):
                with open(os.path.join(folder, name)) as f:
                    out[name[: -len(".json")]] = json.load(f)
    return out


def _missing(report, notebook):
    entry = report.get(notebook)
    return entry is not None and entry["status"] == "failed" and entry["reason"].startswith("missing notebook")


def _status(report, extra=()):
    parts = [
        f"{notebook}: {entry['reason']}"
        for notebook, entry in sorted(report.items())
        if entry["status"] != "graded" and entry["reason"]
    ]
    flags = [f"{notebook}: {flag}" for notebook, entry in sorted(report.items()) for flag in entry.get("flags", [])]
    flags += list(extra)
    if flags:
        parts.insert(0, "FLAGGED " + "; ".join(flags))
    return "; ".join(parts) if parts else "ok"


def _fmt(x):
    return f"{x:g}"


def export(course, assignments, out=None, fmt="csv", log=print):
    if fmt not in FORMATS:
        raise SystemExit(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    out = out or os.path.join(course.state_dir, "export")
    os.makedirs(out, exist_ok=True)
    grade_rows, question_rows, long_rows, totals, maxima = [], [], [], {}, {}
    per_student = {}
    over = []
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment in assignments:
            notebooks = course.notebooks(assignment)
            reports = _reports(course, assignment)
            totals[assignment] = []
            maxima[assignment] = gb.find_assignment(assignment).max_score
            for submission in sorted(gb.find_assignment(assignment).submissions, key=lambda s: s.student_id):
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
                row = {
                    "assignment": assignment,
                    "student": student,
                    "score": _fmt(final),
                    "max_score": _fmt(submission.max_score),
                    "late_penalty": _fmt(penalty),
                }
                row["notebooks"] = ";".join(
                    f"{nb}={_fmt(gb.find_submission_notebook(nb, assignment, student).score)}" for nb in notebooks
                )
                row["manual_pending"] = str(submission.needs_manual_grade).lower()
                row["status"] = _status(report, extra)
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
    written = _write_grades(out, fmt, assignments, grade_rows, long_rows, per_student, maxima)
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


def _write_grades(out, fmt, assignments, grade_rows, long_rows, per_student, maxima):
    if fmt == "csv":
        path = os.path.join(out, "grades.csv")
        _write_csv(
            path,
            ["assignment", "student", "score", "max_score", "notebooks", "manual_pending", "status", "late_penalty"],
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
        # Canvas gradebook import: the fixed columns, then one per assignment; the first data
        # row ("Points Possible") gives each assignment's maximum.
        path = os.path.join(out, "canvas.csv")
        fixed = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(fixed + list(assignments))
            writer.writerow(["    Points Possible", "", "", "", ""] + [_fmt(maxima[a]) for a in assignments])
            for student in sorted(per_student):
                writer.writerow(
                    [student, "", student, student, ""]
                    + [_fmt(per_student[student][a]) if a in per_student[student] else "" for a in assignments]
                )
    else:  # moodle: an identifier column mapped to the user's "ID number" at import
        path = os.path.join(out, "moodle.csv")
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["ID number"] + list(assignments))
            for student in sorted(per_student):
                writer.writerow(
                    [student]
                    + [_fmt(per_student[student][a]) if a in per_student[student] else "" for a in assignments]
                )
    return f"{path} ({len(per_student)} students)"


def _write_csv(path, columns, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _histogram(scores, maximum, assignment, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    top = max(maximum, max(scores, default=0), 1)
    bins = max(1, min(20, int(top) + 1))
    ax.hist(scores, bins=bins, range=(0, top), color="#4477aa", edgecolor="white")
    ax.set_xlim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"total score (out of {maximum:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{assignment}: {len(scores)} students who submitted")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
