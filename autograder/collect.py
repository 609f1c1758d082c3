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

import datetime
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


# Canvas "download submissions": <name>_[LATE_]<user id>_<submission id>_<original file name>,
# where a resubmission's original name gets "-1", "-2"... and names may hold spaces.
CANVAS_NAME = re.compile(r"^(?P<name>[^_]+?)_(?P<late>LATE_)?(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)$")


def _normal(text):
    """A student name as an id: spaces become underscores."""
    return re.sub(r"\s+", "_", text.strip()).lower()


def _file_key(text):
    """A file name as the LMS may have changed it: case, spaces, '-' and '_' do not count."""
    return re.sub(r"[\s_-]+", "", text).lower()


def parse_canvas_name(stem):
    """{"student", "file", "late", "submission"} for a Canvas download name, else None."""
    match = CANVAS_NAME.match(stem)
    if not match:
        return None
    file = re.sub(r"-\d+$", "", match["file"].strip())  # "layernorm-1" -> "layernorm"
    file = re.sub(r"\s*\(\d+\)$", "", file)  # "layernorm (1)" -> "layernorm"
    return {
        "student": _normal(match["name"]),
        "file": file,
        "late": bool(match["late"]),
        "submission": int(match["sub"]),
    }


def match_lms_name(filename, table, assignment=None):
    """(student, assignment, notebook, extra) for `<student>_<key>.ipynb` or a Canvas name, else None."""
    if not filename.endswith(".ipynb"):
        return None
    stem = filename[: -len(".ipynb")]
    canvas = parse_canvas_name(stem)
    if canvas:
        normal = {_file_key(k): v for k, v in table.items()}
        target = normal.get(_file_key(canvas["file"]))
        if target and (not assignment or target[0] == assignment) and STUDENT_ID.match(canvas["student"]):
            return (canvas["student"], *target, {"canvas_late": canvas["late"], "submission": canvas["submission"]})
    for key in sorted(table, key=len, reverse=True):
        target = table[key]
        if assignment and target[0] != assignment:
            continue
        if stem.endswith("_" + key):
            student = stem[: -len(key) - 1]
            if STUDENT_ID.match(student):
                return (student, *target, {})
    return None


def _walk(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__MACOSX")))
        for name in sorted(files):
            yield os.path.join(folder, name)


def _safe_extract(zip_path, dest):
    """Extract without letting `../` or absolute member names escape `dest`; each file
    keeps its zip entry time as its mtime (the submission time an LMS zip records)."""
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            target = os.path.realpath(os.path.join(dest, member.filename))
            if not target.startswith(os.path.realpath(dest) + os.sep) or member.is_dir():
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            when = datetime.datetime(*member.date_time, tzinfo=datetime.UTC).timestamp()
            os.utime(target, (when, when))


def collect(course, path, assignment=None, log=print, take_late=False):
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
        report = _collect_tree(course, root, assignment, take_late)
    log(f"collected {len(report['collected'])} notebook(s) from {len(report['students'])} student(s)")
    for item in report["kept_earlier"] + [c for c in report["collected"] if c.get("note")]:
        log(f"  {item['student']}/{item['notebook']}: {item['note']}")
    for item in report["unmatched"]:
        log(f"  UNMATCHED {item['file']}: {item['reason']} (copied to {item['kept_as']})")
    with open(os.path.join(course.state_dir, "last_collect.json"), "w") as f:
        json.dump(report, f, indent=1)
    return report


def _due_date(course, assignment):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, "normlab") as gb:
        try:
            due = gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None
    return due.replace(tzinfo=datetime.UTC) if due is not None and due.tzinfo is None else due


def _is_late(version, due):
    return version["late_flag"] or (due is not None and version["time"] > due)


def _choose_version(course, student, assignment, notebook, versions, take_late):
    """The version that counts: the latest on-time one (this batch or what was collected
    before) unless `take_late`; otherwise the latest.  Returns (version or None to keep
    what is already there, note for the report)."""
    due = _due_date(course, assignment)
    versions = sorted(versions, key=lambda v: (v["time"], v["submission"]))
    latest = versions[-1]
    if take_late or not _is_late(latest, due):
        return latest, (f"{len(versions)} versions: the latest counts" if len(versions) > 1 else "")
    on_time = [v for v in versions if not _is_late(v, due)]
    existing = _read_timestamp(course, student, assignment, notebook)
    if on_time:
        return on_time[-1], f"a late version ({latest['rel']}) arrived: the on-time one counts (--take-late to change)"
    if existing is not None and (due is None or existing <= due):
        return None, f"late version {latest['rel']} ignored: the on-time one collected earlier counts"
    return latest, "late: no on-time version"


def _timestamps_path(course, student, assignment):
    return os.path.join(os.path.dirname(course.submitted_notebook(student, assignment, "x")), "timestamps.json")


def _read_timestamp(course, student, assignment, notebook):
    path = _timestamps_path(course, student, assignment)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        value = json.load(f).get(notebook)
    return datetime.datetime.fromisoformat(value) if value else None


def _write_timestamp(course, student, assignment, notebook, when):
    """Per notebook in timestamps.json; the assignment's time (the latest notebook) in
    nbgrader's own timestamp.txt, which `grade` hands to the gradebook."""
    path = _timestamps_path(course, student, assignment)
    times = {}
    if os.path.exists(path):
        with open(path) as f:
            times = json.load(f)
    times[notebook] = when.isoformat()
    with open(path, "w") as f:
        json.dump(times, f, indent=1, sort_keys=True)
    latest = max(datetime.datetime.fromisoformat(t) for t in times.values())
    with open(os.path.join(os.path.dirname(path), "timestamp.txt"), "w") as f:
        f.write(latest.strftime("%Y-%m-%d %H:%M:%S.%f %Z").strip())


def _collect_tree(course, root, assignment, take_late=False):
    table = _name_table(course)
    released = set(course.released())
    report = {"collected": [], "unmatched": [], "students": [], "kept_earlier": []}
    candidates = {}
    for file in _walk(root):
        rel = os.path.relpath(file, root)
        parts = rel.split(os.sep)
        if os.path.basename(file).startswith("."):
            continue
        target = None
        # nbgrader layout: [.../]<student>/<assignment>/<notebook>.ipynb
        if len(parts) >= 3 and parts[-2] in released and parts[-1].endswith(".ipynb"):
            notebook = parts[-1][: -len(".ipynb")]
            if notebook in course.notebooks(parts[-2]) and STUDENT_ID.match(parts[-3]):
                target = (parts[-3], parts[-2], notebook, {})
        if target is None:
            target = match_lms_name(os.path.basename(file), table, assignment)
        if target is None:
            kept = os.path.join(course.path("unmatched"), rel)
            os.makedirs(os.path.dirname(kept), exist_ok=True)
            shutil.copyfile(file, kept)
            known = ", ".join(sorted(table)) or "(nothing released yet)"
            report["unmatched"].append(
                {
                    "file": rel,
                    "kept_as": kept,
                    "reason": f"name matches no released notebook; expected "
                    f"<student>_<name>.ipynb with <name> one of: {known}",
                }
            )
            continue
        student, assignment_id, notebook, extra = target
        when = datetime.datetime.fromtimestamp(os.path.getmtime(file), datetime.UTC)
        candidates.setdefault((student, assignment_id, notebook), []).append(
            {
                "file": file,
                "rel": rel,
                "time": when,
                "late_flag": extra.get("canvas_late", False),
                "submission": extra.get("submission", 0),
            }
        )
    for (student, assignment_id, notebook), versions in sorted(candidates.items()):
        chosen, note = _choose_version(course, student, assignment_id, notebook, versions, take_late)
        dest = course.submitted_notebook(student, assignment_id, notebook)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if chosen is not None:
            shutil.copyfile(chosen["file"], dest)
            _write_timestamp(course, student, assignment_id, notebook, chosen["time"])
            report["collected"].append(
                {
                    "file": chosen["rel"],
                    "student": student,
                    "assignment": assignment_id,
                    "notebook": notebook,
                    "time": chosen["time"].isoformat(),
                    **({"note": note} if note else {}),
                }
            )
        elif note:
            report["kept_earlier"].append(
                {"student": student, "assignment": assignment_id, "notebook": notebook, "note": note}
            )
        if student not in report["students"]:
            report["students"].append(student)
    return report
