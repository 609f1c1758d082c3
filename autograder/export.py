"""`export`: what the instructor takes away, all read from nbgrader's gradebook.

  grades.csv      one row per (assignment, student): total, max, score per notebook,
                  whether manual grading is still pending, status (reasons)
  questions.csv   one row per autograded question: mean score, share with full marks
                  (the difficulty table: low share = hard question)
  histogram_<assignment>.png   distribution of total scores
"""
import csv
import json
import os

from nbgrader.api import Gradebook


def _status(course, assignment, student):
    path = os.path.join(course.state_dir, "reports", assignment, f"{student}.json")
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        report = json.load(f)
    parts = [f"{notebook}: {entry['reason']}" for notebook, entry in sorted(report.items())
             if entry["status"] != "graded" and entry["reason"]]
    return "; ".join(parts) if parts else "ok"


def _fmt(x):
    return f"{x:g}"


def export(course, assignments, out=None, log=print):
    out = out or os.path.join(course.state_dir, "export")
    os.makedirs(out, exist_ok=True)
    grade_rows, question_rows, totals = [], [], {}
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment in assignments:
            notebooks = course.notebooks(assignment)
            totals[assignment] = []
            for submission in sorted(gb.find_assignment(assignment).submissions, key=lambda s: s.student_id):
                row = {"assignment": assignment, "student": submission.student_id,
                       "score": _fmt(submission.score), "max_score": _fmt(submission.max_score)}
                row["notebooks"] = ";".join(
                    f"{nb}={_fmt(gb.find_submission_notebook(nb, assignment, submission.student_id).score)}"
                    for nb in notebooks)
                row["manual_pending"] = str(submission.needs_manual_grade).lower()
                row["status"] = _status(course, assignment, submission.student_id)
                grade_rows.append(row)
                totals[assignment].append(submission.score)
            for notebook in gb.find_assignment(assignment).notebooks:
                for cell in sorted(notebook.grade_cells, key=lambda c: c.name):
                    scores = [g.score for g in cell.grades if g.score is not None]
                    full = sum(s >= cell.max_score for s in scores)
                    question_rows.append({
                        "assignment": assignment, "notebook": notebook.name, "question": cell.name,
                        "max_points": _fmt(cell.max_score), "submissions": len(scores),
                        "mean_score": f"{sum(scores) / len(scores):.3f}" if scores else "",
                        "full_marks_share": f"{full / len(scores):.3f}" if scores else ""})
    _write_csv(os.path.join(out, "grades.csv"),
               ["assignment", "student", "score", "max_score", "notebooks", "manual_pending", "status"], grade_rows)
    question_rows.sort(key=lambda r: (r["assignment"], r["notebook"], r["question"]))
    _write_csv(os.path.join(out, "questions.csv"), list(question_rows[0]) if question_rows else ["question"],
               question_rows)
    for assignment, scores in totals.items():
        _histogram(scores, assignment, os.path.join(out, f"histogram_{assignment}.png"))
    log(f"wrote {out}/grades.csv ({len(grade_rows)} rows), questions.csv ({len(question_rows)} questions), "
        f"histogram_<assignment>.png")
    return out


def _write_csv(path, columns, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _histogram(scores, assignment, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    top = max(scores, default=0)
    bins = max(1, min(20, int(top) + 1))
    ax.hist(scores, bins=bins, range=(0, max(top, 1)), color="#4477aa", edgecolor="white")
    ax.set_xlabel("total score")
    ax.set_ylabel("students")
    ax.set_title(f"{assignment}: {len(scores)} submissions")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
