"""The book platform: building and serving the book, and the Sphinx extension.

``_config.yml`` lists one Sphinx extension, ``normlab.book``; its :func:`setup` sets up
each part below, in this order:

- :mod:`.offline`: widget state pre-rendered at build time, nothing from a CDN;
- :mod:`.reader`: the reader's page script and style, search, bibliography labels, the
  student kit;
- :mod:`.quiz_directive`: the ``{quiz}`` directive (banks in ``book/quizzes/``) and its
  checker ``static/normlab-quiz.js``;
- :mod:`.student_notebooks`: the graded notebooks' student versions, released by the autograder;
- :mod:`.demo_assets`: the demos' page script and style (``normlab/demos/static/``).

Beside it: :mod:`.build` (``python -m normlab.book.build``, what ``make book`` runs),
:mod:`.assets` (``python -m normlab.book.assets``, the vendored web assets),
:mod:`.contents` (JupyterLab's contents manager that opens chapters as notebooks),
:mod:`.student_kit`, :mod:`.exercises` (the graded notebooks' exercise summary and check feedback)
and :mod:`.diagrams` (the drawings of the chapters). ``static/`` holds the pages' own scripts
and styles.

Importing this package imports nothing else: ``python -m normlab.book.build`` starts
without Sphinx or torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily at run time
    from sphinx.application import Sphinx


# The order _config.yml listed them in before they became one extension.
EXTENSIONS = (
    "normlab.book.offline",
    "normlab.book.reader",
    "normlab.book.quiz_directive",
    "normlab.book.student_notebooks",
    "normlab.book.demo_assets",
)


def setup(app: Sphinx) -> dict:
    """Sphinx entry point: set up every part of the book's extension."""
    for name in EXTENSIONS:
        app.setup_extension(name)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
