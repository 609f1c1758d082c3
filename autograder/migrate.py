"""`migrate --to URL`: copy a course's gradebook into another database (sqlite -> PostgreSQL).

nbgrader creates the schema in the target (its own `Gradebook`, alembic-stamped); then
every table of nbgrader's models is copied in dependency order, in one transaction.  A
target that already holds grades is refused (nothing is merged or overwritten).  After
it, the course uses the new gradebook with `--db-url URL` (or AUTOGRADER_DB_URL), and
nbgrader_config.py is rewritten to point there.
"""

from __future__ import annotations

from collections.abc import Callable

from nbgrader.api import Base, Gradebook
from sqlalchemy import func, select

from .course import COURSE_ID, Course, normalise_db_url, redact


def migrate(course: Course, target_url: str, log: Callable[[str], object] = print) -> dict[str, int]:
    target = normalise_db_url(target_url)
    if target == course.db_url:
        raise SystemExit("migrate --to names the gradebook already in use")
    tables = Base.metadata.sorted_tables
    copied = {}
    with Gradebook(course.db_url, COURSE_ID) as source, Gradebook(target, COURSE_ID) as dest:
        held = [t.name for t in tables if dest.db.execute(select(func.count()).select_from(t)).scalar()]
        if any(name not in ("course",) for name in held):
            raise SystemExit(f"{redact(target)} already holds grades (tables {', '.join(held)}): not overwritten")
        for table in tables:
            if table.name == "course":  # nbgrader's Gradebook() already made the course row
                continue
            rows = [dict(row._mapping) for row in source.db.execute(table.select())]
            if rows:
                dest.db.execute(table.insert(), rows)
            copied[table.name] = len(rows)
        dest.db.commit()
    Course(root=course.root, exercises=course.exercises, db_url=target)  # nbgrader_config.py follows
    log(
        f"copied {sum(copied.values())} rows ({', '.join(f'{k} {v}' for k, v in copied.items() if v)}) "
        f"from {course.db_label} to {redact(target)}; use --db-url (or AUTOGRADER_DB_URL) from now on"
    )
    return copied
