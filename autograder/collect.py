"""`collect`: bring submissions into course/submitted/<student>/<assignment>/<notebook>.ipynb.

Accepted inputs:
  * a folder of LMS downloads named `<student>_<notebook>.ipynb`, or
    `<student>_<assignment>_<notebook>.ipynb`, or `<student>_<assignment>.ipynb` for an
    assignment with a single notebook (student ids may contain underscores: the
    longest known suffix wins);
  * a .zip of such files (or of a submitted/ tree);
  * nbgrader's own layout `<student>/<assignment>/<notebook>.ipynb`.
A file that matches no released notebook is NOT dropped: it is copied to
course/unmatched/ and listed in the report, so the instructor can rename it.
"""
import json
import os
import re
import shutil
import tempfile
import zipfile

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def _name_table(course):
    """filename suffix -> (assignment, notebook) for every released notebook."""
    table = {}
    for assignment in course.released():
        notebooks = course.notebooks(assignment)
        for notebook in notebooks:
            table[f"{assignment}_{notebook}"] = (assignment, notebook)
            table.setdefault(notebook, (assignment, notebook))
        if len(notebooks) == 1:
            table.setdefault(assignment, (assignment, notebooks[0]))
    return table


def match_lms_name(filename, table, assignment=None):
    """(student, assignment, notebook) for `<student>_<key>.ipynb`, else None."""
    if not filename.endswith(".ipynb"):
        return None
    stem = filename[:-len(".ipynb")]
    for key in sorted(table, key=len, reverse=True):
        target = table[key]
        if assignment and target[0] != assignment:
            continue
        if stem.endswith("_" + key):
            student = stem[:-len(key) - 1]
            if STUDENT_ID.match(student):
                return (student, *target)
    return None


def _walk(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__MACOSX")))
        for name in sorted(files):
            yield os.path.join(folder, name)


def _safe_extract(zip_path, dest):
    """Extract without letting `../` or absolute member names escape `dest`."""
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            target = os.path.realpath(os.path.join(dest, member.filename))
            if not target.startswith(os.path.realpath(dest) + os.sep) or member.is_dir():
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def collect(course, path, assignment=None, log=print):
    """Copy every recognised submission into submitted/; return a report dict."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise SystemExit(f"nothing to collect: {path} does not exist")
    with tempfile.TemporaryDirectory() as scratch:
        if zipfile.is_zipfile(path):
            _safe_extract(path, scratch)
            root = scratch
        elif os.path.isdir(path):
            root = path
        else:
            raise SystemExit(f"{path} is neither a folder nor a .zip file")
        report = _collect_tree(course, root, assignment)
    log(f"collected {len(report['collected'])} notebook(s) from {len(report['students'])} student(s)")
    for item in report["unmatched"]:
        log(f"  UNMATCHED {item['file']}: {item['reason']} (copied to {item['kept_as']})")
    with open(os.path.join(course.state_dir, "last_collect.json"), "w") as f:
        json.dump(report, f, indent=1)
    return report


def _collect_tree(course, root, assignment):
    table = _name_table(course)
    released = set(course.released())
    report = {"collected": [], "unmatched": [], "students": []}
    for file in _walk(root):
        rel = os.path.relpath(file, root)
        parts = rel.split(os.sep)
        if os.path.basename(file).startswith("."):
            continue
        target = None
        # nbgrader layout: [.../]<student>/<assignment>/<notebook>.ipynb
        if len(parts) >= 3 and parts[-2] in released and parts[-1].endswith(".ipynb"):
            notebook = parts[-1][:-len(".ipynb")]
            if notebook in course.notebooks(parts[-2]) and STUDENT_ID.match(parts[-3]):
                target = (parts[-3], parts[-2], notebook)
        if target is None:
            target = match_lms_name(os.path.basename(file), table, assignment)
        if target is None:
            kept = os.path.join(course.path("unmatched"), rel)
            os.makedirs(os.path.dirname(kept), exist_ok=True)
            shutil.copyfile(file, kept)
            known = ", ".join(sorted(table)) or "(nothing released yet)"
            report["unmatched"].append({"file": rel, "kept_as": kept,
                                        "reason": f"name matches no released notebook; expected "
                                                  f"<student>_<name>.ipynb with <name> one of: {known}"})
            continue
        student, assignment_id, notebook = target
        dest = course.submitted_notebook(student, assignment_id, notebook)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(file, dest)
        report["collected"].append({"file": rel, "student": student, "assignment": assignment_id,
                                    "notebook": notebook})
        if student not in report["students"]:
            report["students"].append(student)
    return report
