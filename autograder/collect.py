"""`collect`: bring submissions into course/submitted/<student>/<assignment>/<notebook>.ipynb.

Accepted inputs:
  * Canvas downloads `<name>_[LATE_]<user id>_<submission id>_<file>.ipynb`: the student
    id is the Canvas user id (two students with one name stay apart), the name is kept in
    course/autograder/students.json, and Canvas's LATE_ flag decides lateness;
  * Moodle downloads `<Full Name>_<participant id>_assignsubmission_file_<file>.ipynb`, or
    the same name as a folder holding `<file>.ipynb`: the student id is Moodle's id;
  * a folder of files named `<student>_<notebook>.ipynb`, or
    `<student>_<assignment>_<notebook>.ipynb`, or `<student>_<assignment>.ipynb` for an
    assignment with a single notebook (student ids may contain underscores: the
    longest known suffix wins);
  * a .zip of such files (or of a submitted/ tree);
  * nbgrader's own layout `<student>/<assignment>/<notebook>.ipynb`.
A file that matches no released notebook is NOT dropped: it is copied to
course/unmatched/ (keeping its time) and listed with the part that did not match and
the likely fix, so the instructor can rename it and collect course/unmatched/ again.
The submission time is the zip entry's time (or the file's, for a folder), overruled by
Canvas's LATE_ flag; every run is appended to course/autograder/collect_log.jsonl.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .course import Course

    # file name suffix -> a released notebook's (assignment, notebook)
    _NameTable = dict[str, tuple[str, str]]
    # (student, assignment, notebook, what the download's name said: name, lms, prefix, submission,
    # canvas_late, id_note; JSON-like, values of several types)
    _Target = tuple[str, str, str, dict[str, Any]]
    # one downloaded version of a notebook: file, rel, time, time_note, id_note, lms, late_flag, submission
    _Version = dict[str, Any]

import datetime
import json
import os
import re
import shutil
import tempfile
import zipfile

from .roster import ID_RULE, STUDENT_ID, ids_by_name, load_roster

NO_TIME = datetime.datetime(1980, 1, 1, tzinfo=datetime.UTC)  # a zip entry's smallest time: "not recorded"


def _name_table(course: Course) -> _NameTable:
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
# where a resubmission's original name gets "-1", "-2"... and names may hold spaces.  Two
# students with the same name differ by their user id, which is therefore the student id.
CANVAS_NAME = re.compile(r"^(?P<name>[^_]+?)_(?P<late>LATE_)?(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
# Moodle "download all submissions" (mod/assign, file submissions): the file is named
# "<full name>_<participant id>_assignsubmission_file_<original name>", or, with "download
# submissions in folders", it sits in a folder "<full name>_<participant id>_assignsubmission_file_".
MOODLE_NAME = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_file_(?P<file>.*)$")
# What Jupyter ("Make a copy": -Copy1) and browsers (a second download: " (1)") add to a name.
COPY_SUFFIX = re.compile(r"(?:-Copy\d+|\s*\(\d+\))$")


def _normal(text: str) -> str:
    """A student name as an id: spaces become underscores."""
    return re.sub(r"\s+", "_", text.strip()).lower()


def _file_key(text: str) -> str:
    """A file name as the LMS may have changed it: case, spaces, '-' and '_' do not count."""
    return re.sub(r"[\s_-]+", "", text).lower()


def parse_canvas_name(stem: str) -> dict[str, Any] | None:
    """{"student" (the Canvas user id), "name", "file", "late", "submission", "lms"} for a
    Canvas download name, else None."""
    match = CANVAS_NAME.match(stem)
    if not match:
        return None
    file = re.sub(r"-\d+$", "", match["file"].strip())  # "layernorm-1" -> "layernorm"
    file = re.sub(r"\s*\(\d+\)$", "", file)  # "layernorm (1)" -> "layernorm"
    return {
        "student": match["user"],
        "prefix": stem[: match.start("file")],  # what Canvas's re-upload of feedback matches on
        "name": _normal(match["name"]),
        "file": file,
        "late": bool(match["late"]),
        "submission": int(match["sub"]),
        "lms": "canvas",
    }


def parse_moodle_name(stem: str) -> dict[str, Any] | None:
    """{"student" (Moodle's participant id), "name", "file", "lms"} for a Moodle download
    name (the folder layout joined as "<folder><file>"), else None."""
    match = MOODLE_NAME.match(stem)
    if not match or not match["file"]:
        return None
    return {
        "student": match["user"],
        "prefix": stem[: match.start("file")],  # what Moodle's feedback-zip upload matches on
        "name": match["name"].strip(),
        "file": match["file"].strip(),
        "lms": "moodle",
    }


def parse_lms_name(stem: str) -> dict[str, Any] | None:
    """A Moodle or Canvas download name (Moodle's is more specific: tried first), else None."""
    return parse_moodle_name(stem) or parse_canvas_name(stem)


def match_lms_name(filename: str, table: dict, assignment: str | None = None) -> tuple[str, str, str, dict] | None:
    """(student, assignment, notebook, extra) for `<student>_<key>.ipynb`, a Canvas or a
    Moodle name (for Moodle's folder layout: "<folder name><file name>"), else None."""
    if not filename.endswith(".ipynb"):
        return None
    stem = filename[: -len(".ipynb")]
    lms = parse_lms_name(stem)
    if lms:
        normal = {_file_key(k): v for k, v in table.items()}
        target = normal.get(_file_key(lms["file"]))
        if target and (not assignment or target[0] == assignment):
            extra = {
                "name": lms["name"],
                "lms": lms["lms"],
                "prefix": lms["prefix"],
                "submission": lms.get("submission", 0),
            }
            if lms["lms"] == "canvas":
                extra["canvas_late"] = lms["late"]
            return (lms["student"], *target, extra)
    for key in sorted(table, key=len, reverse=True):
        target = table[key]
        if assignment and target[0] != assignment:
            continue
        if stem.endswith("_" + key):
            student = stem[: -len(key) - 1]
            if STUDENT_ID.match(student):
                return (student, *target, {})
    return None


def _walk(root: str) -> Iterator[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__MACOSX")))
        for name in sorted(files):
            yield os.path.join(folder, name)


def _safe_extract(zip_path: str, dest: str) -> None:
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


def collect(
    course: Course,
    path: str,
    assignment: str | None = None,
    log: Callable[[str], object] = print,
    take_late: bool = False,
) -> dict[str, Any]:
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
        json.dump(report, f, indent=1, ensure_ascii=False)
    with open(os.path.join(course.state_dir, "collect_log.jsonl"), "a") as f:  # every run, not only the last
        f.write(json.dumps({"when": datetime.datetime.now(datetime.UTC).isoformat(), "path": path, **report}) + "\n")
    return report


def _due_date(course: Course, assignment: str) -> datetime.datetime | None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, "normlab") as gb:
        try:
            due = gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None
    return due.replace(tzinfo=datetime.UTC) if due is not None and due.tzinfo is None else due


def _is_late(version: _Version, due: datetime.datetime | None) -> bool:
    return version["late_flag"] or (due is not None and version["time"] > due)


def _choose_version(
    course: Course, student: str, assignment: str, notebook: str, versions: list[_Version], take_late: bool
) -> tuple[_Version | None, str]:
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


def _timestamps_path(course: Course, student: str, assignment: str) -> str:
    return os.path.join(os.path.dirname(course.submitted_notebook(student, assignment, "x")), "timestamps.json")


def _read_timestamp(course: Course, student: str, assignment: str, notebook: str) -> datetime.datetime | None:
    path = _timestamps_path(course, student, assignment)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        value = json.load(f).get(notebook)
    return datetime.datetime.fromisoformat(value) if value else None


def _write_timestamp(course: Course, student: str, assignment: str, notebook: str, when: datetime.datetime) -> None:
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


def _lms_filename(file: str) -> str:
    """The name to match: Moodle's folder layout puts the student in the folder's name
    ("Jane Smith_123456_assignsubmission_file_/ordering.ipynb"): the two are joined."""
    folder = os.path.basename(os.path.dirname(file))
    name = os.path.basename(file)
    return folder + name if folder.endswith("_assignsubmission_file_") else name


def unmatched_reason(filename: str, table: dict) -> str:
    """Why `filename` matched no released notebook: the part that did not match, and the
    likely fix (a Jupyter "-Copy1" or browser " (1)" suffix, an invalid student part)."""
    notebooks = sorted({f"{notebook} (assignment {assignment})" for assignment, notebook in table.values()})
    known = "; ".join(notebooks) or "(nothing released yet)"
    if not filename.endswith(".ipynb"):
        return f"not a notebook (.ipynb); released notebooks: {known}"
    stem = filename[: -len(".ipynb")]
    lms = parse_lms_name(stem)
    part = lms["file"] if lms else stem.rsplit("_", 1)[-1]
    plain = COPY_SUFFIX.sub("", part)
    key = next((k for k in sorted(table, key=len) if _file_key(k) == _file_key(plain)), None)
    if key is not None and key != part:  # the name, once its copy suffix or spelling is fixed
        fixed = filename[: -len(".ipynb") - len(part)] + key + ".ipynb"
        why = (
            f"has a copy suffix ({part[len(plain) :].strip()!r}, added by Jupyter's 'Make a copy' or a second download)"
            if plain != part
            else f"is spelled differently from the notebook {key!r}"
        )
        return (
            f"the notebook part {part!r} {why}; rename the file to {fixed!r} in course/unmatched/ and collect "
            "that folder again"
        )
    if not lms:
        for key in sorted(table, key=len, reverse=True):
            if stem.endswith("_" + key):
                student = stem[: -len(key) - 1]
                return f"the student part {student!r} is not a valid student id: {ID_RULE}"
    return f"the notebook part {part!r} is no released notebook; expected one of: {known}"


def _keep_unmatched(course: Course, file: str, rel: str, table: _NameTable, reason: str = "") -> dict[str, str]:
    """Copy a file nothing matched to course/unmatched/ (with its time: renamed and collected
    again, it keeps its submission time) and say why."""
    kept = os.path.join(course.path("unmatched"), rel)
    os.makedirs(os.path.dirname(kept), exist_ok=True)
    shutil.copy2(file, kept)
    return {"file": rel, "kept_as": kept, "reason": reason or unmatched_reason(_lms_filename(file), table)}


def submission_time(file: Any, extra: dict, due: Any, now: Any = None) -> tuple[Any, str]:
    """(time, note) of a submission: where the LMS says whether it was late (Canvas's
    "LATE_"), that wins over the file's time, which may be the time of a copy or an unzip;
    a zip entry without a time (1980-01-01) counts as unknown."""
    when = datetime.datetime.fromtimestamp(os.path.getmtime(file), datetime.UTC)
    known = when > NO_TIME + datetime.timedelta(days=2)
    if "canvas_late" in extra and due is not None:
        if extra["canvas_late"] and (not known or when <= due):
            return due + datetime.timedelta(
                seconds=1
            ), "Canvas marks it LATE; its time is unknown: 1 s after the due date"
        if not extra["canvas_late"] and (not known or when > due):
            return due, "Canvas marks it on time; the file's own time is not the submission's: the due date"
    if extra.get("canvas_late") and due is None:
        return when, "Canvas marks it LATE but the assignment has no due date here: no penalty (set one with `due`)"
    if not known:
        return now or datetime.datetime.now(datetime.UTC), "no submission time in the download: the time of collecting"
    return when, ""


def _remember_names(course: Course, names: dict[str, dict[str, str]]) -> None:
    """Display names of the students (id -> name, LMS) beside the ids: course/autograder/students.json."""
    if not names:
        return
    path = os.path.join(course.state_dir, "students.json")
    known = {}
    if os.path.exists(path):
        with open(path) as f:
            known = json.load(f)
    known.update(names)
    with open(path, "w") as f:
        json.dump(known, f, indent=1, sort_keys=True, ensure_ascii=False)


def _roster_student(roster: dict | None, target: _Target) -> tuple[_Target | None, str]:
    """(target with the roster's id, "") for a Moodle download, whose id is a participant id
    of one assignment only: the student is found by full name in the roster; (None, reason)
    when no roster student or several have that name."""
    student, assignment_id, notebook, extra = target
    if extra.get("lms") != "moodle":
        return target, ""
    if roster is None:
        note = "Moodle's participant id (one assignment's): `roster import` lines students up across assignments"
        return (student, assignment_id, notebook, {**extra, "id_note": note}), ""
    ids = ids_by_name(roster, extra["name"])
    if len(ids) == 1:
        return (ids[0], assignment_id, notebook, extra), ""
    found = f"several ({', '.join(ids)})" if ids else "no one"
    return None, (
        f"the student part {extra['name']!r}: {found} in the roster has that name; rename the file "
        "(or its folder) to <roster id>_<notebook>.ipynb in course/unmatched/ and collect that folder again"
    )


def lms_names_path(course: Course, student: str, assignment: str) -> str:
    """submitted/<student>/<assignment>/lms_names.json: per notebook, the LMS and the name
    prefix of its download (`feedback --lms` names each page so the LMS finds its student)."""
    return os.path.join(os.path.dirname(course.submitted_notebook(student, assignment, "x")), "lms_names.json")


def _write_lms_name(course: Course, student: str, assignment: str, notebook: str, lms: dict[str, str]) -> None:
    path = lms_names_path(course, student, assignment)
    names = {}
    if os.path.exists(path):
        with open(path) as f:
            names = json.load(f)
    names[notebook] = lms
    with open(path, "w") as f:
        json.dump(names, f, indent=1, sort_keys=True, ensure_ascii=False)


def _collect_tree(
    course: Course, root: str, assignment: str | None, take_late: bool = False
) -> dict[str, list[Any]]:  # collected, unmatched, students, kept_earlier: JSON records and ids
    table = _name_table(course)
    roster = load_roster(course)
    released = set(course.released())
    report: dict[str, list] = {"collected": [], "unmatched": [], "students": [], "kept_earlier": []}
    candidates: dict = {}
    names: dict = {}
    dues: dict = {}
    for file in _walk(root):
        rel = os.path.relpath(file, root)
        parts = rel.split(os.sep)
        if os.path.basename(file).startswith("."):
            continue
        target: _Target | None = None
        # nbgrader layout: [.../]<student>/<assignment>/<notebook>.ipynb
        if len(parts) >= 3 and parts[-2] in released and parts[-1].endswith(".ipynb"):
            notebook = parts[-1][: -len(".ipynb")]
            if notebook in course.notebooks(parts[-2]) and STUDENT_ID.match(parts[-3]):
                target = (parts[-3], parts[-2], notebook, {})
        if target is None:
            target = match_lms_name(_lms_filename(file), table, assignment)
        reason = ""
        if target is not None:
            target, reason = _roster_student(roster, target)
        if target is None:
            report["unmatched"].append(_keep_unmatched(course, file, rel, table, reason))
            continue
        student, assignment_id, notebook, extra = target
        if extra.get("name"):
            names[student] = {"name": extra["name"], "lms": extra["lms"]}
        if assignment_id not in dues:  # one gradebook read per assignment, not per file
            dues[assignment_id] = _due_date(course, assignment_id)
        when, time_note = submission_time(file, extra, dues[assignment_id])
        candidates.setdefault((student, assignment_id, notebook), []).append(
            {
                "file": file,
                "rel": rel,
                "time": when,
                "time_note": time_note,
                "id_note": extra.get("id_note", ""),
                "lms": {"lms": extra["lms"], "prefix": extra["prefix"]} if extra.get("lms") else None,
                "late_flag": extra.get("canvas_late", False),
                "submission": extra.get("submission", 0),
            }
        )
    _remember_names(course, names)
    for (student, assignment_id, notebook), versions in sorted(candidates.items()):
        chosen, note = _choose_version(course, student, assignment_id, notebook, versions, take_late)
        dest = course.submitted_notebook(student, assignment_id, notebook)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if chosen is not None:
            shutil.copy2(chosen["file"], dest)
            _write_timestamp(course, student, assignment_id, notebook, chosen["time"])
            if chosen["lms"]:
                _write_lms_name(course, student, assignment_id, notebook, chosen["lms"])
            note = "; ".join(n for n in (note, chosen["time_note"], chosen["id_note"]) if n)
            report["collected"].append(
                {
                    "file": chosen["rel"],
                    "student": student,
                    "assignment": assignment_id,
                    "notebook": notebook,
                    "time": chosen["time"].isoformat(),
                    **({"name": names[student]["name"]} if student in names else {}),
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
