"""Issue 23: a real course's LMS downloads (Canvas, Moodle) collected without merging,
losing or making late anyone; "not submitted" is not "failed".  Fast: no kernels."""

import datetime
import json
import os

import pytest
from autograder_helpers import ASSIGNMENT, Class, lms_zip

from autograder.collect import collect, unmatched_reason
from autograder.grade import find_jobs

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


def test_unmatched_reason_for_a_canvas_copy():
    table = {"ordering": ("ordering", "ordering"), "ordering_ordering": ("ordering", "ordering")}
    reason = unmatched_reason("smithjo_11_22_ordering-Copy1.ipynb", table)
    assert "'-Copy1'" in reason and "'smithjo_11_22_ordering.ipynb'" in reason
