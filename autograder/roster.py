"""`roster import FILE`: the class list from the LMS, kept in course/autograder/roster.json.

Students are keyed by the LMS's stable id; names are data (two students may share one).
Formats recognised by their header row:
  * Canvas's gradebook export (Grades > Export): "Student", "ID", "SIS User ID",
    "SIS Login ID", "Section", then one column per assignment "Title (assignment id)"; a
    "Points Possible" row (and on newer Canvas a "Manual Posting" row) follows the header.
    Key: "ID", the Canvas user id, which is also the id in Canvas's submission downloads.
    The assignment ids are kept: the canvas.csv export names its columns "Title (id)" so
    that Canvas updates those assignments instead of creating new ones.
  * Moodle's participants or grades export: "First name", "Last name" and "ID number"
    and/or "Email address" (the identifiers Moodle's CSV grade import can map: "ID number",
    "Email address", "Username").  Key: "ID number" when every row has one, else the email.
    Moodle's submission downloads name a student "<Full name>_<participant id>_..." with a
    participant id of that assignment only: `collect` finds the student by full name here.
  * a plain CSV: "id" (or "student"), and optionally "name", "email", "section".
"""

from __future__ import annotations

import csv
import json
import os
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .course import Course

    # roster.json: {"lms", "identifier", "students": {id: {"name", ...}}, "assignments": {title: LMS id}}
    _Roster = dict[str, Any]

# A student id is a folder name: letters of any script, digits, and . @ ' - _ (names such as
# "lópezanamaría" or "o'neilsean", emails); never a path separator, never starting with a dot.
STUDENT_ID = re.compile(r"^\w[\w.@'’-]*$")
ID_RULE = "letters, digits and . @ ' - _ (no spaces, no '/')"
ROSTER_FILE = "roster.json"
CANVAS_TITLE = re.compile(r"^(?P<title>.*\S)\s*\((?P<id>\d+)\)$")  # "ordering (4312)"
CANVAS_FIXED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def name_key(name: str) -> str:
    """A full name as compared across files: Unicode NFC, case and spacing do not count."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _rows(path: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:  # Excel and Canvas write a BOM
        return list(csv.reader(f))


def _canvas(header: list[str], rows: list[list[str]]) -> _Roster:
    col = {name: header.index(name) for name in CANVAS_FIXED}
    students, assignments = {}, {}
    for index, title in enumerate(header):
        match = CANVAS_TITLE.match(title)
        if match and index >= len(CANVAS_FIXED):
            assignments[match["title"]] = match["id"]
    for row in rows:
        user = row[col["ID"]].strip() if len(row) > col["ID"] else ""
        if not user.isdigit():  # "Points Possible", "Manual Posting": no user id
            continue
        students[user] = {
            "name": row[col["Student"]].strip(),
            "sis_user_id": row[col["SIS User ID"]].strip(),
            "sis_login_id": row[col["SIS Login ID"]].strip(),
            "section": row[col["Section"]].strip(),
        }
    return {"lms": "canvas", "identifier": "ID", "students": students, "assignments": assignments}


def _moodle(header: list[str], rows: list[list[str]]) -> _Roster:
    col = {name: header.index(name) for name in header}

    def cell(row: list[str], name: str) -> str:
        return row[col[name]].strip() if name in col and len(row) > col[name] else ""

    rows = [r for r in rows if any(c.strip() for c in r)]
    identifier = "ID number" if "ID number" in col and all(cell(r, "ID number") for r in rows) else "Email address"
    if identifier not in col:
        raise SystemExit(
            "a Moodle export without an identifier: expected an 'ID number' (filled for every student) or "
            "an 'Email address' column, which Moodle's grade import can map back to its users"
        )
    students = {}
    for row in rows:
        key = cell(row, identifier)
        if not key:
            raise SystemExit(f"a Moodle row without its {identifier!r}: {row}")
        students[key] = {
            "name": f"{cell(row, 'First name')} {cell(row, 'Last name')}".strip(),
            "email": cell(row, "Email address"),
            "idnumber": cell(row, "ID number"),
        }
    return {"lms": "moodle", "identifier": identifier, "students": students, "assignments": {}}


def _plain(header: list[str], rows: list[list[str]]) -> _Roster:
    lower = [h.strip().lower() for h in header]
    key = "id" if "id" in lower else "student"
    col = {name: lower.index(name) for name in lower}
    students = {}
    for row in rows:
        if not any(c.strip() for c in row):
            continue
        sid = row[col[key]].strip()
        students[sid] = {k: row[col[k]].strip() for k in ("name", "email", "section") if k in col and len(row) > col[k]}
    return {"lms": "csv", "identifier": key, "students": students, "assignments": {}}


def read_roster(path: str) -> dict:
    """{"lms", "identifier", "students": {id: {"name", ...}}, "assignments": {title: LMS id}}
    from a Canvas gradebook export, a Moodle participants/grades export or a plain CSV."""
    rows = _rows(path)
    if not rows:
        raise SystemExit(f"{path} is empty; expected a Canvas gradebook export, a Moodle export or a CSV with 'id'")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if all(name in header for name in CANVAS_FIXED):
        return _checked(path, _canvas(header, body))
    if "First name" in header and "Last name" in header:
        return _checked(path, _moodle(header, body))
    if {"id", "student"} & {h.lower() for h in header}:
        return _checked(path, _plain(header, body))
    raise SystemExit(
        f"{path}: header {header[:6]} is no roster format; expected Canvas's gradebook export "
        f"({', '.join(CANVAS_FIXED)}), Moodle's participants export (First name, Last name, ID number or "
        "Email address), or a CSV with an 'id' column (and 'name')"
    )


def _checked(path: str, roster: _Roster) -> _Roster:
    """Every id becomes a folder name under course/submitted/: refuse one that cannot."""
    bad = [sid for sid in roster["students"] if not STUDENT_ID.match(sid)]
    if bad:
        raise SystemExit(f"{path}: ids that cannot be student ids ({ID_RULE}): {', '.join(map(repr, bad[:5]))}")
    if not roster["students"]:
        raise SystemExit(f"{path}: no students found under its header")
    return roster


def roster_path(course: Course) -> str:
    return os.path.join(course.state_dir, ROSTER_FILE)


def load_roster(course: Course) -> dict | None:
    """The imported roster, or None when there is none."""
    path = roster_path(course)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def import_roster(course: Course, path: str, log: Callable[[str], object] = print) -> dict:
    """Read `path` and keep it as the course's roster (replacing an earlier one)."""
    roster = read_roster(path)
    with open(roster_path(course), "w") as f:
        json.dump(roster, f, indent=1, sort_keys=True, ensure_ascii=False)
    same = _shared_names(roster)
    log(
        f"roster: {len(roster['students'])} students from a {roster['lms']} file, keyed by {roster['identifier']!r}"
        + (f"; {len(same)} names shared by several students (kept apart by id): {', '.join(same)}" if same else "")
    )
    return roster


def _shared_names(roster: dict) -> list[str]:
    seen: dict[str, list[str]] = {}
    for sid, info in roster["students"].items():
        seen.setdefault(name_key(info.get("name", "")), []).append(sid)
    return sorted(name for name, ids in seen.items() if name and len(ids) > 1)


def ids_by_name(roster: dict, name: str) -> list:
    """The roster ids of the students called `name` (Moodle downloads name students, with an
    id of that assignment only)."""
    key = name_key(name)
    return sorted(sid for sid, info in roster["students"].items() if name_key(info.get("name", "")) == key)
