"""The book's quiz banks as a learner meets them (issue 26): the right option is not the
one to pick by its length, a cited year is the bibliography's, and chapters 4 and 5 ask
why, not only what."""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

from normlab.quiz import load_banks

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
MAX_LONGEST_KEY_SHARE = 1 / 5


@functools.lru_cache(maxsize=1)
def bank():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # give-aways are test_quiz.py's business
        return load_banks(BOOK / "quizzes")


def key_is_longest(q) -> bool:
    """No wrong option is longer than the key (a tie counts: it is still the longest)."""
    key = next(c for c in q.choices if c.correct)
    return all(len(c.text) <= len(key.text) for c in q.choices if not c.correct)


def test_the_key_is_the_longest_option_in_at_most_a_fifth_of_single_choice_questions():
    singles = [q for q in bank().values() if q.type == "single"]
    longest = sorted(q.id for q in singles if key_is_longest(q))
    # 17 of 39 before issue 26: picking the longest option scored 44%
    assert len(longest) <= MAX_LONGEST_KEY_SHARE * len(singles), (
        f"the key is the longest option in {len(longest)} of {len(singles)} single-choice questions "
        f"(at most {int(MAX_LONGEST_KEY_SHARE * len(singles))}): {', '.join(longest)}"
    )


# --- years: a quiz cites a paper with the year of its bibliography entry ---------------

ENTRY = re.compile(r"@\w+\{[^,]+,(?P<body>.*?)\n\}", re.DOTALL)
FIELD = re.compile(r"^\s*(author|year)\s*=\s*\{(.*)\},?\s*$", re.MULTILINE)
CITED = re.compile(r"\b([A-Z][A-Za-z-]+) et al\.,? \(?(\d{4})")


def bibliography_years() -> dict[str, set[str]]:
    """First author's surname -> the years of their entries, from every .bib of the book."""
    years: dict[str, set[str]] = {}
    for bib in BOOK.glob("*.bib"):
        for entry in ENTRY.finditer(bib.read_text(encoding="utf-8")):
            fields = dict(FIELD.findall(entry.group("body")))
            if "author" in fields and "year" in fields:
                surname = fields["author"].split(" and ")[0].split(",")[0].strip("{} ")
                years.setdefault(surname, set()).add(fields["year"].strip("{} "))
    return years


def quiz_texts(q) -> list[str]:
    return [q.prompt, q.explain, *(c.text for c in q.choices), *(c.explain for c in q.choices)] + [
        w.explain for w in q.wrong
    ]


def test_papers_are_cited_in_quizzes_with_their_bibliography_year():
    years = bibliography_years()
    assert years.get("Wortsman") == {"2024"}, "the ICLR 2024 paper is in the bibliography"
    wrong = sorted(
        f"{q.id}: {surname} et al. {year} (bibliography: {', '.join(sorted(years[surname]))})"
        for q in bank().values()
        for text in quiz_texts(q)
        for surname, year in CITED.findall(text)
        if surname in years and year not in years[surname]
    )
    assert wrong == []


# --- why questions for the chapters where the placements are defined ------------------

CHAPTER_OF_BANK = {"04-post-norm.yml": "04-post-norm.md", "05-pre-norm.yml": "05-pre-norm.md"}


def test_chapters_4_and_5_ask_why_and_show_it_under_check_yourself():
    from normlab.book.quiz_directive import quiz_cells_to_directives

    for bank_name, chapter in CHAPTER_OF_BANK.items():
        whys = [q for q in bank().values() if q.source.name == bank_name and q.prompt.lower().startswith("why")]
        assert len(whys) >= 2, f"{bank_name}: at least two questions asking why"
        text = quiz_cells_to_directives((BOOK / chapter).read_text(encoding="utf-8"))
        check_yourself = text.split("## Check yourself", 1)[1].split("\n## ", 1)[0]
        for q in whys:
            assert f"{{quiz}} {q.id}\n" in check_yourself, f"{chapter}: shows {q.id} under 'Check yourself'"
            # every wrong option says which mistake leads there, not only that it is wrong
            for choice in q.choices:
                assert len(choice.explain.split()) >= 12, f"{q.id}: {choice.text[:40]!r} needs a real explanation"


# how the book's tooling works, not how the norms do: 6 before issue 26
LOGISTICS = {
    "ch0-static-demo",
    "ch0-hidden-tests",
    "ch8-cells",
    "ch8-self-check",
    "ch8-course-form-feedback",
    "ch8-workflow",
}


def test_logistics_questions_give_way_to_questions_about_the_norms():
    left = sorted(LOGISTICS & set(bank()))
    assert len(left) <= 2, left
    assert len([qid for qid in left if qid.startswith("ch8-")]) <= 1, left


def test_lemma3_feedback_for_4_names_the_forgotten_square_root():
    q = bank()["deep-stacks-lemma3-value"]
    feedback = q.check("4.0")
    assert not feedback.correct
    assert "square root" in feedback.explanations[0]
