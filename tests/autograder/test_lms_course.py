"""Issue 23: a real course's LMS downloads (Canvas, Moodle) collected without merging,
losing or making late anyone; "not submitted" is not "failed".  Fast: no kernels."""

import csv
import datetime
import json
import os
import zipfile

import pytest
from autograder_helpers import ASSIGNMENT, FIXTURES, LMS_FIXTURES, Class, lms_zip, record_scores

from autograder.__main__ import main as cli
from autograder.collect import collect, unmatched_reason
from autograder.export import export
from autograder.feedback import lms_feedback_zip
from autograder.grade import grade
from autograder.jobs import find_jobs
from autograder.roster import import_roster

QUIET = {"log": lambda *_: None}
DUE = datetime.datetime(2026, 12, 1, 23, 59, tzinfo=datetime.UTC)
BEFORE, AFTER = DUE - datetime.timedelta(hours=2), DUE + datetime.timedelta(hours=3)


def collected(report):
    return sorted((c["student"], c["notebook"]) for c in report["collected"])


def timestamps(course, student):
    with open(course.path("submitted", student, ASSIGNMENT, "timestamps.json")) as f:
        return {k: datetime.datetime.fromisoformat(v) for k, v in json.load(f).items()}


@pytest.fixture
def klass(fresh_course):
    return Class(fresh_course)


def download(tmp_path, entries):
    path = tmp_path / "download.zip"
    path.write_bytes(lms_zip(entries))
    return str(path)


# ---------------------------------------------------------------- problem 1
def test_canvas_students_with_one_name_stay_apart(fresh_course, klass, tmp_path):
    zipped = download(
        tmp_path,
        [
            ("nguyenanh_20001_60001_layernorm.ipynb", klass.notebook("layernorm"), BEFORE),
            ("nguyenanh_20002_60002_layernorm.ipynb", klass.notebook("layernorm", {"layer_norm": "x = 1"}), BEFORE),
        ],
    )
    report = collect(fresh_course, zipped, **QUIET)
    assert collected(report) == [("20001", "layernorm"), ("20002", "layernorm")]
    with open(os.path.join(fresh_course.state_dir, "students.json")) as f:
        names = json.load(f)
    assert names["20001"]["name"] == names["20002"]["name"] == "nguyenanh"
    one, two = (fresh_course.submitted_notebook(s, ASSIGNMENT, "layernorm") for s in ("20001", "20002"))
    assert open(one).read() != open(two).read()  # nobody's work overwritten


# ---------------------------------------------------------------- problem 2
def test_a_renamed_copy_keeps_its_submission_time(fresh_course, klass, tmp_path):
    """The documented recovery (rename in course/unmatched/, collect that folder) keeps the
    zip entry's time: an on-time -Copy1 notebook stays on time."""
    fresh_course.set_due_date(ASSIGNMENT, DUE.isoformat())
    report = collect(
        fresh_course, download(tmp_path, [("ada_layernorm-Copy1.ipynb", klass.notebook("layernorm"), BEFORE)]), **QUIET
    )
    [item] = report["unmatched"]
    assert "-Copy1" in item["reason"] and "'ada_layernorm.ipynb'" in item["reason"]
    unmatched = fresh_course.path("unmatched")
    os.rename(item["kept_as"], os.path.join(unmatched, "ada_layernorm.ipynb"))
    report = collect(fresh_course, unmatched, **QUIET)
    assert collected(report) == [("ada", "layernorm")]
    assert timestamps(fresh_course, "ada")["layernorm"] == BEFORE


def test_canvas_late_flag_decides_not_the_file_time(fresh_course, klass, tmp_path):
    """An unzipped folder whose files all carry the time of the unzip (after the due date),
    a zip without entry times, and Canvas's LATE_ flag on a file whose time says on time."""
    fresh_course.set_due_date(ASSIGNMENT, DUE.isoformat())
    folder = tmp_path / "unzipped"
    folder.mkdir()
    (folder / "ann_101_1_layernorm.ipynb").write_text(json.dumps(klass.notebook("layernorm")))
    os.utime(folder / "ann_101_1_layernorm.ipynb", (AFTER.timestamp(), AFTER.timestamp()))
    collect(fresh_course, str(folder), **QUIET)
    assert timestamps(fresh_course, "101")["layernorm"] <= DUE  # Canvas said on time
    zipped = download(
        tmp_path,
        [
            ("ben_102_2_layernorm.ipynb", klass.notebook("layernorm"), None),  # no time in the zip
            ("cy_LATE_103_3_layernorm.ipynb", klass.notebook("layernorm"), BEFORE),  # LATE, time says otherwise
        ],
    )
    report = collect(fresh_course, zipped, **QUIET)
    assert collected(report) == [("102", "layernorm"), ("103", "layernorm")]
    assert timestamps(fresh_course, "102")["layernorm"] <= DUE
    assert timestamps(fresh_course, "103")["layernorm"] > DUE
    assert "LATE" in next(c["note"] for c in report["collected"] if c["student"] == "103")


# ---------------------------------------------------------------- problem 3
def test_not_submitting_an_assignment_is_not_a_job(fresh_course, klass):
    """A student with work for another assignment only is "not submitted" for this one: no
    job, so no zero row, no "failed", no feedback page."""
    klass.submit("alice", "layernorm", klass.notebook("layernorm"))
    os.makedirs(fresh_course.path("submitted", "bob", "another_assignment"))
    jobs = find_jobs(fresh_course, [ASSIGNMENT])
    assert {job.student for job in jobs} == {"alice"}
    assert fresh_course.students() == ["alice", "bob"] and fresh_course.students(ASSIGNMENT) == ["alice"]


# ---------------------------------------------------------------- problems 5 and 6
def test_moodle_downloads_in_both_layouts(fresh_course, klass, tmp_path):
    zipped = download(
        tmp_path,
        [
            ("Jane Smith_123456_assignsubmission_file_/layernorm.ipynb", klass.notebook("layernorm"), BEFORE),
            ("José O'Neil_123457_assignsubmission_file_rmsnorm.ipynb", klass.notebook("rmsnorm"), BEFORE),
            ("Jane Smith_123458_assignsubmission_file_/prenorm.ipynb", klass.notebook("prenorm"), BEFORE),
        ],
    )
    report = collect(fresh_course, zipped, **QUIET)
    assert not report["unmatched"]
    assert collected(report) == [("123456", "layernorm"), ("123457", "rmsnorm"), ("123458", "prenorm")]
    with open(os.path.join(fresh_course.state_dir, "students.json")) as f:
        assert json.load(f)["123457"]["name"] == "José O'Neil"


def test_real_names_are_ids_and_messages_name_the_part_that_did_not_match(fresh_course, klass, tmp_path):
    zipped = download(
        tmp_path,
        [
            ("lópezanamaría_layernorm.ipynb", klass.notebook("layernorm"), BEFORE),
            ("o'neilsean_ps1_rmsnorm.ipynb", klass.notebook("rmsnorm"), BEFORE),
            ("ann marie_layernorm.ipynb", klass.notebook("layernorm"), BEFORE),
            ("ben_layernorm (1).ipynb", klass.notebook("layernorm"), BEFORE),
            ("cy_layernrom.ipynb", klass.notebook("layernorm"), BEFORE),
            ("dee_layer-norm.ipynb", klass.notebook("layernorm"), BEFORE),
        ],
    )
    report = collect(fresh_course, zipped, **QUIET)
    assert collected(report) == [("lópezanamaría", "layernorm"), ("o'neilsean", "rmsnorm")]
    reasons = {u["file"]: u["reason"] for u in report["unmatched"]}
    assert "student part 'ann marie' is not a valid student id" in reasons["ann marie_layernorm.ipynb"]
    assert "'ben_layernorm.ipynb'" in reasons["ben_layernorm (1).ipynb"]
    assert "notebook part 'layernrom'" in reasons["cy_layernrom.ipynb"]
    assert "layernorm (assignment ps1)" in reasons["cy_layernrom.ipynb"]
    assert "ps1_layernorm" not in reasons["cy_layernrom.ipynb"]  # no key doubled with its assignment
    assert "rename the file to 'dee_layernorm.ipynb'" in reasons["dee_layer-norm.ipynb"]


def test_unmatched_reason_for_a_canvas_copy():
    table = {"ordering": ("ordering", "ordering"), "ordering_ordering": ("ordering", "ordering")}
    reason = unmatched_reason("smithjo_11_22_ordering-Copy1.ipynb", table)
    assert "'-Copy1'" in reason and "'smithjo_11_22_ordering.ipynb'" in reason


# ---------------------------------------------------------------- roster and problem 4
def canvas_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], {row[1]: row for row in rows[2:]}


def test_canvas_roster_and_an_export_canvas_imports(fresh_course, tmp_path):
    """canvas.csv as Canvas's import reads it (fixture: a gradebook export written from
    Canvas's documentation): ids and SIS ids from the roster, "Title (id)" columns, the
    non-submitter blank (or 0 when asked), same-name students apart."""
    roster = import_roster(fresh_course, os.path.join(LMS_FIXTURES, "canvas_gradebook_export.csv"), **QUIET)
    assert sorted(roster["students"]) == ["20001", "20002", "20003", "20004"]
    assert roster["assignments"] == {ASSIGNMENT: "4312"}
    record_scores(fresh_course, {"20001": 1.0, "20002": 0.5, "20004": 0.0})
    out = tmp_path / "out"
    export(fresh_course, [ASSIGNMENT], out=str(out), fmt="canvas", **QUIET)
    header, rows = canvas_rows(out / "canvas.csv")
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ps1 (4312)"]
    assert rows["20001"][:5] == ["Nguyen, Anh", "20001", "S20001", "anguyen", "NORM-101"]
    assert {sid: row[5] for sid, row in rows.items()} == {"20001": "9", "20002": "4.5", "20003": "", "20004": "0"}
    export(fresh_course, [ASSIGNMENT], out=str(out), fmt="canvas", missing="zero", **QUIET)
    assert canvas_rows(out / "canvas.csv")[1]["20003"][5] == "0"
    export(fresh_course, [ASSIGNMENT], out=str(out), **QUIET)
    with open(out / "grades.csv", newline="") as f:
        grades = {r["student"]: r for r in csv.DictReader(f)}
    assert grades["20003"]["status"] == "not submitted" and grades["20003"]["score"] == ""


def test_lms_exports_refuse_while_hand_grading_is_pending(fresh_course, tmp_path):
    record_scores(fresh_course, {"20001": 1.0, "20002": 0.5}, pending={"20002"})
    for fmt in ("canvas", "moodle"):
        with pytest.raises(SystemExit, match="1 submission.*hand grading.*ps1/20002"):
            export(fresh_course, [ASSIGNMENT], out=str(tmp_path), fmt=fmt, **QUIET)
    lines = []
    export(fresh_course, [ASSIGNMENT], out=str(tmp_path), fmt="canvas", allow_pending=True, log=lines.append)
    assert any(line.startswith("WARNING") and "hand grading" in line for line in lines)


def test_moodle_roster_names_the_download_and_keys_the_export(fresh_course, klass, tmp_path):
    """Moodle's download id is one assignment's participant id: with the roster the student is
    its "ID number"; a name two roster students share is not guessed."""
    import_roster(fresh_course, os.path.join(LMS_FIXTURES, "moodle_participants.csv"), **QUIET)
    zipped = download(
        tmp_path,
        [
            ("Jane Smith_881_assignsubmission_file_/layernorm.ipynb", klass.notebook("layernorm"), BEFORE),
            ("José O'Neil_882_assignsubmission_file_rmsnorm.ipynb", klass.notebook("rmsnorm"), BEFORE),
            ("Anh Nguyen_883_assignsubmission_file_/layernorm.ipynb", klass.notebook("layernorm"), BEFORE),
        ],
    )
    report = collect(fresh_course, zipped, **QUIET)
    assert collected(report) == [("S-1001", "layernorm"), ("S-1002", "rmsnorm")]
    [unmatched] = report["unmatched"]
    assert "several (S-1003, S-1004)" in unmatched["reason"]
    record_scores(fresh_course, {"S-1001": 1.0})
    export(fresh_course, [ASSIGNMENT], out=str(tmp_path), fmt="moodle", **QUIET)
    with open(tmp_path / "moodle.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ID number", ASSIGNMENT]
    assert dict(rows[1:]) == {"S-1001": "9", "S-1002": "", "S-1003": "", "S-1004": ""}


# ---------------------------------------------------------------- lateness as commands
def test_due_extend_and_status_commands(fresh_course, capsys):
    from nbgrader.api import Gradebook

    base = ["--course", fresh_course.root, "--exercises", FIXTURES]
    record_scores(fresh_course, {"20001": 1.0, "20002": 1.0})
    with Gradebook(fresh_course.db_url, "normlab") as gb:
        gb.find_submission(ASSIGNMENT, "20002").timestamp = AFTER.replace(tzinfo=None)
        gb.db.commit()
    keys_before = late_keys(fresh_course)
    assert cli(base + ["due", ASSIGNMENT, DUE.isoformat()]) == 0
    assert cli(base + ["extend", "20001", ASSIGNMENT, "48"]) == 0
    assert fresh_course.extensions() == {ASSIGNMENT: {"20001": 48.0}}
    keys_after = late_keys(fresh_course)
    assert keys_after["20001"] != keys_before["20001"]  # `grade` re-scores her late penalty
    capsys.readouterr()
    assert cli(base + ["status"]) == 0
    out = capsys.readouterr().out
    assert "ps1: due 2026-12-01 23:59:00" in out
    assert "extension  20001: +48 h" in out and "late       20002: late by 3.0 h" in out
    with pytest.raises(SystemExit, match="no such assignment: nope"):
        cli(base + ["due", "nope", DUE.isoformat()])


def late_keys(course):
    from nbgrader.api import Gradebook

    from autograder.jobs import late_policy_keys

    with Gradebook(course.db_url, "normlab") as gb:
        key = late_policy_keys(gb, course, ASSIGNMENT)
        return {s: key(s) for s in ("20001", "20002")}


def test_grade_one_student_unknown_is_a_message(fresh_course, klass):
    klass.submit("alice", "layernorm", klass.notebook("layernorm"))
    with pytest.raises(SystemExit, match="no submission of zed for ps1"):
        grade(fresh_course, [ASSIGNMENT], students=["zed"], **QUIET)


def test_feedback_zip_is_named_for_the_lms_upload(fresh_course, klass, tmp_path):
    zipped = download(
        tmp_path,
        [
            ("nguyenanh_LATE_20001_60001_layernorm-1.ipynb", klass.notebook("layernorm"), BEFORE),
            ("Jane Smith_881_assignsubmission_file_/rmsnorm.ipynb", klass.notebook("rmsnorm"), BEFORE),
            ("ada_layernorm.ipynb", klass.notebook("layernorm"), BEFORE),
        ],
    )
    collect(fresh_course, zipped, **QUIET)
    for student, notebook in (("20001", "layernorm"), ("881", "rmsnorm"), ("ada", "layernorm")):
        page = fresh_course.path("feedback", student, ASSIGNMENT, f"{notebook}.html")
        os.makedirs(os.path.dirname(page), exist_ok=True)
        with open(page, "w") as f:
            f.write(f"<html>{student}</html>")
    lines = []
    with zipfile.ZipFile(lms_feedback_zip(fresh_course, ASSIGNMENT, "canvas", log=lines.append)) as archive:
        assert archive.namelist() == ["nguyenanh_LATE_20001_60001_layernorm-feedback.html"]
        assert archive.read(archive.namelist()[0]) == b"<html>20001</html>"
    assert "ada/layernorm" in lines[-1] and "881/rmsnorm" in lines[-1]  # listed, not guessed
    with zipfile.ZipFile(lms_feedback_zip(fresh_course, ASSIGNMENT, "moodle", **QUIET)) as archive:
        assert archive.namelist() == ["Jane Smith_881_assignsubmission_file_rmsnorm-feedback.html"]


def test_a_roster_id_that_cannot_be_a_folder_is_refused(fresh_course, tmp_path):
    bad = tmp_path / "class.csv"
    bad.write_text("id,name\n../../etc,Mallory\nS-1,Ann\n")
    with pytest.raises(SystemExit, match="cannot be student ids.*'../../etc'"):
        import_roster(fresh_course, str(bad), **QUIET)
    bad.write_text("Name,Mail\nAnn,a@b\n")
    with pytest.raises(SystemExit, match="no roster format; expected Canvas's gradebook export"):
        import_roster(fresh_course, str(bad), **QUIET)
