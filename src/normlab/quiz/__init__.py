"""Quizzes: one YAML bank format (``book/quizzes/*.yml``), two surfaces.

- :mod:`.model`  the data: questions, feedback, and the quiz-type interface (``QuizType``)
- :mod:`.fields` parsers for the bank fields the types share (options, numbers, variants)
- :mod:`.types`  one class per quiz type (parse, check, html, widget), registered by name
- :mod:`.bank`   the file format: read, validate, warn when a question gives itself away
- :mod:`.keys`   computed answer keys (``answer_from: normlab.quiz.keys.<name>``)
- :mod:`.numbers` what a reader may type as a number or a shape (``number_forms.json``)
- :mod:`.widget` the live ipywidgets surface, :func:`show`

The built book's surface is the ``{quiz}`` directive (:mod:`normlab.book.quiz_directive`), checked
in the browser by ``static/normlab-quiz.js``, whose handlers mirror :mod:`.types`.

    import normlab
    normlab.quiz.show("attn-weights-shape")
"""

from .bank import QuizBankError, QuizBankWarning, load_bank, load_banks
from .model import Choice, Feedback, Question, Variant, WrongAnswer, seeded_permutation, verdict
from .numbers import format_numbers, numbers_match, parse_numbers
from .types import TYPES, QuizType, get_type, register, resolve_answer_source
from .widget import QuizWidget, default_quiz_dir, get_question, markdown_html, show

QUESTION_TYPES = tuple(TYPES)

__all__ = [
    "Choice",
    "Feedback",
    "Question",
    "QuizBankError",
    "QuizBankWarning",
    "Variant",
    "WrongAnswer",
    "load_bank",
    "load_banks",
    "seeded_permutation",
    "verdict",
    "format_numbers",
    "numbers_match",
    "parse_numbers",
    "TYPES",
    "QuizType",
    "get_type",
    "register",
    "resolve_answer_source",
    "QuizWidget",
    "default_quiz_dir",
    "get_question",
    "markdown_html",
    "show",
    "QUESTION_TYPES",
]
