"""The errors the content audit found (issue 11, "Errors to fix"), one test per item.

Each test fails on the text the audit read and passes on the corrected one: a phrase
that stated something false is gone from the chapter's source (and its quiz bank), the
corrected statement is there with its source cited next to it, and where the page
measures something, the built page shows the measured value the prose relies on.
"""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest
import yaml

from normlab.quiz import load_bank

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
SITE = ROOT / "_build" / "html"


def source(name: str) -> str:
    return (BOOK / f"{name}.md").read_text(encoding="utf-8")


def prose(name: str) -> str:
    """The chapter's source with whitespace collapsed, so phrases match across line breaks."""
    return re.sub(r"\s+", " ", source(name))


def bank_text(name: str) -> str:
    """Every prompt, option and explanation of a chapter's quiz bank, whitespace collapsed."""
    parts = []
    for q in load_bank(BOOK / "quizzes" / f"{name}.yml"):
        parts += [q.prompt, getattr(q, "explain", "") or ""]
        parts += [f"{c.text} {c.explain}" for c in q.choices]
    return re.sub(r"\s+", " ", " ".join(parts))


def question(name: str, qid: str):
    return {q.id: q for q in load_bank(BOOK / "quizzes" / f"{name}.yml")}[qid]


def page_text(name: str) -> str:
    """The built page as text (tags stripped, entities decoded, whitespace collapsed)."""
    page = SITE / "book" / f"{name}.html"
    if not page.is_file():
        pytest.fail(f"{page} is missing: run `make book`")
    text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
    text = html_lib.unescape(text).replace("\u2019", "'").replace("\u2018", "'")  # the theme's smart quotes
    return re.sub(r"\s+", " ", text)


def near(text: str, phrase: str, wanted: str, window: int = 600) -> bool:
    """Whether `wanted` occurs within `window` characters of some occurrence of `phrase`."""
    for m in re.finditer(re.escape(phrase), text):
        if wanted in text[max(0, m.start() - window) : m.end() + window]:
            return True
    return False


# --- 1. chapter 7: its own output contradicted its prose -------------------------------------


def test_item1_refactor_case_compares_what_the_prose_means_and_asserts_it():
    text = prose("07-debugging")
    assert "identical shapes at every step" not in text
    assert "assert same_output_shape and same_steps_and_shapes and not same_order" in text
    page = page_text("07-debugging")
    assert "every traced shape equal" not in page  # the old, self-contradicting row
    assert re.search(r"same output shape True", page)
    assert re.search(r"same steps with the same shapes \(in any order\) True", page)
    assert re.search(r"same steps in the same order False", page)
    explain = bank_text("07-debugging")
    assert "shows identical shapes" not in explain
    assert "different order" in explain


# --- 2. warm-up: Xiong et al. argue from the gradients; "Adam's steps" is the RAdam paper ----


def test_item2_warmup_is_attributed_to_its_sources():
    for name in ("04-post-norm", "05-pre-norm"):
        text = prose(name)
        assert "Xiong et al. argue that this is what" not in text, name
        assert "the early, large Adam steps no longer derail" not in text, name
        # issue 26: the story is told once, in the deep-stacks chapter, and pointed to from here
        assert near(text, "Adam", "<warm-up-in-practice>`"), f"{name}: the Adam explanation is referenced"
    ch9 = prose("09-training-deep-stacks")
    assert near(ch9, "Adam", "{cite}`liu2020variance`"), "the Adam explanation cites RAdam"
    assert near(ch9, "SGD", "§3.2") and "RAdam" in ch9
    assert near(ch9, "RAdam", "without warm-up", window=200)
    explain = next(c for c in question("04-post-norm", "post-norm-warmup").choices if c.correct).explain
    assert "Adam's early full-size steps" not in explain
    assert "Liu et al." in explain and "SGD" in explain and "RAdam" in explain


# --- 3. "pre-norm trains without warm-up": Xiong et al.'s result, not the practice ------------


def test_item3_no_warm_up_is_stated_as_an_experiment_next_to_the_practice():
    for name in ("00-preface", "05-pre-norm", "06-variants"):
        text = prose(name)
        assert "makes pre-norm trainable without warm-up" not in text, name
        assert "deep stacks train without a warm-up" not in text, name
        assert "and it trains without a warm-up" not in text, name
        assert "{cite}`brown2020language" in text and "touvron2023llama" in text, (
            f"{name}: the pre-norm LLMs' warm-up is cited"
        )
    for name in ("05-pre-norm", "06-variants"):
        text = prose(name)
        assert near(text, "375 million tokens", "(App. B)") and near(text, "2,000 steps", "(§2.3)"), name
    right = next(c for c in question("06-variants", "variants-prevalence").choices if c.correct)
    assert "without the warm-up post-norm depends on" not in right.text
    assert "warm-up in practice" in right.explain


# --- 4. sandwich norm does not bound the stream -----------------------------------------------


def test_item4_sandwich_norm_is_said_to_grow_and_the_page_measures_it():
    text = prose("06-variants")
    assert "adds a contribution of bounded size" not in text
    assert "is what sandwich norm, res-post-norm with zero-initialised gains, and QK-norm address" not in text
    assert near(text, "FP16", "{cite}`ding2021cogview`")
    assert 'assert stream["sandwich"][1] - stream["sandwich"][0] > stream["pre"][1] - stream["pre"][0]' in text
    page = page_text("06-variants")
    numbers = re.search(
        r"Sandwich norm's stream goes from ([\d.]+) to ([\d.]+) between 6 and 24 blocks, "
        r"pre-norm's from ([\d.]+) to ([\d.]+)",
        page,
    )
    assert numbers, "the measured growth is printed in the prose"
    s6, s24, p6, p24 = map(float, numbers.groups())
    assert s24 > s6 and s24 - s6 > p24 - p6 > 0


OLD_SANDWICH_BOUNDS = re.compile(
    r"bounded contribution|contribution of bounded size|limits what each branch adds"
    r"|bounding what each block adds|sandwich[^.]{0,80}\bbounds? the (residual )?stream",
    re.IGNORECASE,
)


def test_item4_no_page_or_quiz_says_sandwich_norm_bounds_what_the_stream_gets():
    """The quiz key's explanation, the glossary and the language-model chapter said it (issue 11 leftover 1)."""
    texts = {f"book/{p.name}": re.sub(r"\s+", " ", p.read_text(encoding="utf-8")) for p in BOOK.glob("*.md")}
    texts |= {f"quiz bank {p.stem}": bank_text(p.stem) for p in (BOOK / "quizzes").glob("*.yml")}
    found = {where: m.group(0) for where, text in texts.items() if (m := OLD_SANDWICH_BOUNDS.search(text))}
    assert not found, f"sandwich norm described as bounding the stream: {found}"
    key = question("06-variants", "variants-match-formula")
    explain = " ".join(c.explain for c in key.choices if c.correct)
    assert "FP16" in explain and "does not bound the stream" in explain


# --- 5. res-post-norm gains at 1 are OLMo 2's choice, not a mistake ----------------------------


def test_item5_res_post_norm_gains_follow_the_sources_and_the_result_is_qualified():
    text = prose("06-variants")
    assert "Initialising res-post-norm's gains to 1" not in text
    assert "Swin V2 initialises the norm's gains to zero" not in text
    assert near(text, "code", "zero") and near(text, "initialised to 1", "{cite}`olmo2024olmo2`")
    assert "one measurement, at one width" in text
    assert near(text, "scaled cosine attention", "{cite}`liu2022swin`")
    assert near(text, "raw", "\\lVert x \\rVert^2")


# --- 6. QK-norm counters logit growth during training, with its sources ------------------------


def test_item6_qk_norm_is_explained_by_weight_growth_and_cited():
    text = prose("06-variants")
    assert "bounds the attention logits whatever the scale of the stream" not in text
    assert near(text, "QK-norm", "{cite}`dehghani2023scaling,wortsman2023small`", window=1200)
    assert near(text, "already computed from a normalised input", "W^Q")


# --- 7. Lemma 2's 3/2 d is the sum before the norm --------------------------------------------


def test_item7_three_halves_d_is_placed_before_the_norm():
    text = prose("05-pre-norm")
    assert "For post-norm, $\\mathbb{E}\\lVert x_l \\rVert^2 = \\tfrac{3}{2} d$" not in text
    assert near(text, "\\tfrac{3}{2} d$ at every layer", "*before* each block's last norm", window=200)
    wrong = {w.answer: w.explain for w in question("05-pre-norm", "pre-norm-lemma2-bound").wrong}
    assert "*before*" in wrong[(768.0,)]


# --- 9. what other sources teach, and the chapter-5 comparison the text points to --------------


def test_item9_d2l_is_described_correctly_and_the_comparison_exists():
    assert "Dive into Deep Learning teaches post-norm only" not in prose("00-preface")
    ch5 = source("05-pre-norm")
    assert "(sources-compared)=" in ch5
    for key in ("zhang2023dive", "rush2018annotated", "xiao2025foundations"):
        assert near(prose("05-pre-norm"), "Three popular sources", key, window=1500), key
    assert "§11.8" in ch5
    for name in ("00-preface", "04-post-norm"):  # issue 26: chapters 1 and 3 no longer repeat the note
        text = source(name)
        assert "{ref}`sources-compared`" in text or "<sources-compared>`" in text, f"{name} points at the comparison"
    page = page_text("05-pre-norm")
    assert "Three popular sources, side by side" in page


# --- 10. the costs of pre-norm, with their evidence ------------------------------------------


def test_item10_pre_norm_costs_are_cited():
    text = prose("05-pre-norm")
    assert "Three consequences are documented" not in text
    for key in ("gromov2024unreasonable", "sun2025curse", "li2025mixln"):
        assert near(text, "contribute less than their parameters suggest", key, window=1200), key


# --- 8. the measurements page says what its cells measured, and asserts it --------------------


def test_item8_measurements_prose_matches_its_own_tables_and_is_asserted():
    text = prose("measurements")
    assert "With independent Gaussian tokens it is close to flat" not in text
    assert "stays at chance for every seed" not in text
    assert "varies more from seed to seed" not in text
    assert "post-norm's does not fall (slope" not in text
    # the sweeps' sentences are claims checked over 16 seeds (normlab.studies.claims)
    for name in ("sweep-theorem1-directions", "sweep-post-norm-profile-rises-with-correlated-tokens", "lemma2-holds"):
        assert f'claims.check("{name}")' in text
    assert "assert math.isclose(HIGH_LR, 10 * 1e-3) and TASK.steps == 100" in text
    assert near(text, "*expected* gradient", "Xiong et al.")
    assert near(text, "NormFormer", "{cite}`shleifer2021normformer`")
    assert near(text, "Fig. 3(c)", "our measurement and the paper differ")
    page = page_text("measurements")
    rising = re.search(r"rises too \(×\s*([\d.]+)\s*, rising in (\d+) of 16 seeds\)", page)
    assert rising and float(rising.group(1)) > 1.1 and int(rising.group(2)) >= 9
    slopes = re.search(r"slopes from \+([\d.]+) to \+([\d.]+)", page)
    assert slopes and 0 < float(slopes.group(1)) <= float(slopes.group(2))
    # chapter 2's memory sentence is computed and asserted by its cell
    ch2 = prose("02-attention-cost")
    assert "At 256 tokens the weights of the demo's four heads take 1 MiB" not in ch2
    assert "assert weights[short] == 2**20 and weights[long] == 4 * 2**30" in ch2
    assert re.search(r"take 4,096 times as much memory, from 1 MiB to 4 GiB", page_text("02-attention-cost"))


# --- 11. a landing page, no authoring notes for readers, the platform sample out of the TOC ----


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [e["file"] for part in toc["parts"] for e in part["chapters"]]


def test_item11_landing_page_links_every_chapter_and_the_sample_is_out_of_the_toc():
    intro = source("intro")
    assert "placeholder" not in intro
    chapters = [f.removeprefix("book/") for f in toc_files()[1:]]
    for name in chapters:
        if name.startswith("references/"):
            continue
        assert f"{{doc}}`{name}`" in intro or f"<{name}>`" in intro, f"the landing page links {name}"
    assert "book/sample" not in toc_files(), "the platform sample is for authors, not in the readers' TOC"
    assert (SITE / "book" / "sample.html").is_file(), "the sample page is still built (AUTHORING.md points to it)"
    nav = (SITE / "book" / "intro.html").read_text(encoding="utf-8")
    assert 'href="sample.html"' not in nav and "Platform sample" not in nav
    assert not prose("glossary").startswith("# Glossary Refer to a term")
    assert "Add entries to `book/references.bib`" not in source("bibliography")
    assert "references/facts" in source("bibliography")
    assert (SITE / "book" / "references" / "facts.html").is_file()


# --- add 9. a glossary of at least 30 terms, each linked from its first use -------------------


def glossary_terms() -> list[str]:
    body = source("glossary").split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms, previous_blank = [], True
    for line in body.splitlines():
        if line and not line.startswith(" ") and previous_blank:
            terms.append(line.strip())
        previous_blank = not line.strip()
    return terms


def prose_only(text: str) -> str:
    """Text outside code cells and directives' options, math, inline code, roles and headings."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    text = re.sub(r"^```\{(?!admonition)[^\n]*\n.*?^```\s*$", " ", text, flags=re.S | re.M)
    terms = re.findall(r"\{term\}`[^`]*`", text)  # kept: set aside, put back after
    text = re.sub(r"\{term\}`[^`]*`", "\x00", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    for pattern in (r"\$[^$\n]+\$", r"\{[a-z:-]+\}`[^`]*`", r"`[^`\n]*`", r"^#{1,6} .*$", r"^:.*$", r"^```.*$"):
        text = re.sub(pattern, " ", text, flags=re.M)
    parts = text.split("\x00")
    return "".join(part + (terms[i] if i < len(terms) else "") for i, part in enumerate(parts))


def test_add9_glossary_has_30_terms_each_linked_from_its_first_use_in_the_chapters():
    terms = glossary_terms()
    assert len(terms) >= 30, len(terms)
    chapters = [
        f.removeprefix("book/")
        for f in toc_files()[1:]
        if f not in ("book/glossary", "book/bibliography", "book/references/facts")
    ]
    reading = "\n".join(prose_only(source(name)) for name in chapters)
    for term in terms:
        words = r"\s+".join(re.escape(w) for w in term.split())
        link = re.compile(r"\{term\}`(?:[^`<]*<" + words + r">|" + words + r"s?)`", re.I)
        plain = re.compile(r"(?<![\w<-])" + words + r"s?(?![\w>-])", re.I)
        first_link = link.search(reading)
        assert first_link, f"glossary term {term!r} is never linked from a chapter"
        without_links = link.sub(lambda m: "#" * len(m.group(0)), reading)
        first_plain = plain.search(without_links)
        assert first_plain is None or first_link.start() < first_plain.start(), (
            f"{term!r} is used before its first link: "
            f"...{reading[first_plain.start() - 60 : first_plain.end() + 20]}..."
        )


# --- 12. the smaller errors ---------------------------------------------------------------------


def test_item12_smaller_errors_are_corrected():
    ch4, ch5, ch6, ch7 = (prose(n) for n in ("04-post-norm", "05-pre-norm", "06-variants", "07-debugging"))
    assert "Even with warm-up, doubling the learning rate destroys training" not in ch4
    assert near(ch4, "500-step warm-up", "for this warm-up length")
    assert 'Adding a final LayerNorm to a post-norm stack "for safety"' not in ch4
    assert "changes nothing" in ch4  # at initialisation only: issue 22, L9
    assert "while being 1.6 times smaller and 3 times faster" not in ch5
    assert "against Transformer-Big, the deep model is also 1.6 times smaller" in ch5
    assert near(ch5, "1/\\sqrt{N}", "{cite}`radford2019language` (§2.3)"), "GPT-2's residual init scaling"
    assert "Forgetting that parallel blocks share one norm" not in ch6
    assert near(ch6, "GPT-NeoX", "own norm") and "{cite}`black2022gptneox" in ch6
    assert "the post-norm profile of chapter 4, which is why" not in ch7
    assert near(ch7, "depth scaling that chapter 5 measures", "Theorem 1")
    ch0, ch1, ch2, ch3 = (prose(n) for n in ("00-preface", "01-at-a-glance", "02-attention-cost", "03-sublayers"))
    assert "Xiong et al. proved that for pre-norm it shrinks" not in ch0 and "upper bounds" in ch0
    assert "$O(n^3 d)$ for a text" not in ch2 and "$O(n^2 d^2 + n^3 d)$" in ch2
    assert "(keys and values)" in ch2 and '"numbers held for context (per head)"' not in ch2
    context = prose("appendix-llm-context")  # chapter 1's pre-training section moved there (issue 26)
    assert "or, for large enough decoders, skip the weight update" not in ch1 + context
    assert "not fine-tuning at all" in context
    assert "{cite}`he2016identity`" in ch3 and "{cite}`vaswani2018tensor2tensor`" in ch3
    page = page_text("02-attention-cost")
    assert "numbers held for context (one layer)" in page and "keys and values" in page


# --- issue 11 leftover 2: the cited depth-cost and normalisation papers, as checked -----------

VERIFIED_CITATIONS = {  # key: (arXiv id, venue words, year), read on the primary pages (book/references/facts.md §7)
    "gromov2024unreasonable": ("2403.17887", "ICLR", "2025"),
    "wortsman2023small": ("2309.14322", "ICLR", "2024"),
    "sun2025curse": ("2502.05795", "Neural Information Processing Systems", "2025"),
    "li2025mixln": ("2412.13795", "ICLR", "2025"),
    "kim2025peri": ("2502.02732", "Machine Learning (ICML)", "2025"),
    "zhu2025transformers": ("2503.10622", "CVPR", "2025"),
    "loshchilov2025ngpt": ("2410.01131", "ICLR", "2025"),
}


def bib_entries() -> dict[str, str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(BOOK.glob("references*.bib")))
    return {m.group(1): m.group(2) for m in re.finditer(r"@\w+\{([^,]+),(.*?)\n\}", text, re.DOTALL)}


@pytest.mark.parametrize("key", sorted(VERIFIED_CITATIONS))
def test_leftover2_cited_papers_have_their_checked_arxiv_id_venue_and_year(key):
    eprint, venue, year = VERIFIED_CITATIONS[key]
    entry = bib_entries()[key]
    assert re.search(r"eprint\s*=\s*\{" + re.escape(eprint) + r"\}", entry), f"{key}: arXiv {eprint}"
    assert venue in entry, f"{key}: published at {venue}"
    assert re.search(r"year\s*=\s*\{" + year + r"\}", entry), f"{key}: year {year}"


# --- issue 22: the audit of 2026-12-06 (book/references/facts.md, section 9) -------------------
# M1, M3, L7 and L8 (the seed ensembles of the deep-stacks and language-model chapters) are tested
# with those chapters.


def all_chapters_and_banks() -> dict[str, str]:
    """Every page's source and every quiz bank's text, whitespace collapsed, by name."""
    texts = {f"book/{p.name}": re.sub(r"\s+", " ", p.read_text(encoding="utf-8")) for p in BOOK.glob("*.md")}
    texts |= {f"quiz bank {p.stem}": bank_text(p.stem) for p in (BOOK / "quizzes").glob("*.yml")}
    return texts


def test_m2_depth_dependence_is_liu_et_al_s_amplification_not_xiong_et_al_s_theorem():
    text = prose("measurements")
    assert "as in the paper's argument, it is depth together with a large early step" not in text
    assert near(text, "*independently of depth*", "Theorem 1", window=200)
    assert near(text, "amplification argument", "{cite}`liu2020understanding`", window=200)


def test_m4_vit22b_diverged_at_about_8b_parameters():
    for name in ("06-variants", "10-beyond-placement"):
        text = prose(name)
        assert "saw this at 22 billion parameters" not in text, name
        assert "when scaling a ViT to 22 billion parameters" not in text, name
        assert near(text, "about 8 billion parameters", "§2", window=200), name
        assert near(text, "about 8 billion parameters", "dehghani2023scaling", window=400), name


def test_m5_deep_pre_norm_evidence_is_wang_et_al_and_deepnet_not_xiong_et_al():
    ch5, ch6 = prose("05-pre-norm"), prose("06-variants")
    assert "deep stacks train stably, in Xiong et al.'s experiments even without a warm-up" not in ch5
    assert "trains deep stacks without warm-up in Xiong et al.'s experiments" not in ch6
    for name, text in (("05-pre-norm", ch5), ("06-variants", ch6)):
        assert near(text, "BERT-base", "xiong2020layer", window=300), name
        assert near(text, "30-layer", "{cite}`wang2019learning`", window=200), name
        assert near(text, "30-layer", "{cite}`wang2022deepnet`", window=300), name


def test_l1_attention_cost_figure_is_read_top_and_bottom():
    text = prose("02-attention-cost")
    assert "new_figure(6.4, nrows=2)" in text, "the figure is two charts, one above the other"
    assert "On the left, the measured number" not in text and "On the right, attention's work" not in text
    assert "In the top chart" in text and "In the bottom chart" in text


def test_l2_gpt2_gives_no_reason_for_ln_f():
    text = prose("05-pre-norm")
    assert "GPT-2 adds `ln_f` after its last block for this reason" not in text
    assert "GPT-2's `ln_f` exists for a reason" not in text
    assert near(text, "`ln_f`, after its last block", "without giving a reason", window=300)


def test_l3_theorem_1_is_a_bound_not_a_predicted_slope():
    ch5, ch7 = prose("05-pre-norm"), prose("07-debugging")
    assert "∝ 1/√L (log-log slope −0.5)" not in ch5 and "independent of L (slope 0)" not in ch5
    assert "close to Theorem 1's $-0.5$" not in ch5
    assert "$O(d\\sqrt{\\ln d / L})$ for pre-norm: it shrinks like" not in ch5
    assert "upper bounds, up to constants, not predicted values" in ch5
    assert "upper bound O(d√(ln d / L))" in ch5
    assert "says that at initialisation the last block's FFN gradient shrinks with depth" not in ch7
    assert near(ch7, "Theorem 1", "bounds the last block's FFN gradient", window=100)
    assert "A bound predicts no slope" in ch7


def test_l4_gpt2_residual_layers_are_counted_as_the_implementations_do():
    ch9 = prose("09-training-deep-stacks")
    assert "with two residual layers per block we scale $W_O$ and $W^2$ by $1/\\sqrt{2N}$" not in ch9
    assert "$N$ counts residual layers, two per block" not in ch9
    assert near(ch9, "released code has no depth scaling", "Megatron-LM", window=300)
    assert "$1/\\sqrt{2L}$" in ch9, "blocks are L, residual layers N"
    q = question("09-training-deep-stacks", "deep-stacks-gpt2-scale")
    assert "Hugging Face" in q.prompt and "two residual layers per block" in q.prompt
    for wrong in q.wrong:
        assert "instead of residual layers" not in wrong.explain
        assert "the convention in the question" in wrong.explain


ANNOTATED_TRAP = re.compile(
    r"Reading the Annotated Transformer's prose as its code|Trusting the Annotated Transformer's prose"
    r"|Trusting the prose of a tutorial over its code|prose post-norm, code pre-norm"
    r"|post-norm formula of the 2017 paper while its code is pre-norm"
)


def test_l5_annotated_transformer_states_its_simplification():
    found = {w: m.group(0) for w, t in all_chapters_and_banks().items() if (m := ANNOTATED_TRAP.search(t))}
    assert not found, f"the Annotated Transformer presented as a hidden trap: {found}"
    # issue 26: said once, in the preface (and in chapter 5's comparison); others point there
    for name in ("00-preface", "05-pre-norm"):
        assert near(prose(name), "SublayerConnection", "for code simplicity", window=300), name
    for name, text in all_chapters_and_banks().items():
        if "Annotated Transformer" in text and name not in ("00-preface", "05-pre-norm", "bibliography"):
            assert "for code simplicity" not in text or "sources-compared" in text, name


def test_l6_only_the_identity_term_reaches_x_unchanged():
    wiring = (ROOT / "src" / "normlab" / "demos" / "wiring.py").read_text(encoding="utf-8")
    assert "gradients reach x unchanged" not in wiring
    assert "dy/dx = I + dF/dx" in wiring and "identity term reaches x unchanged" in wiring
    right = next(c for c in question("04-post-norm", "post-norm-unstable-engineer").choices if c.correct)
    assert "gradients reach early layers through it unchanged" not in right.explain
    assert "I + \\partial F/\\partial x" in right.explain and "identity term" in right.explain


def test_l9_an_extra_final_norm_on_post_norm_is_a_no_op_only_at_initialisation():
    text = prose("04-post-norm")
    assert "redundant: harmless, but it adds nothing" not in text
    assert near(text, "At initialisation (gains 1, biases 0)", "changes nothing", window=200)
    assert near(text, "Once training has moved", "no longer an identity", window=200)


def cite_keys(text: str) -> set[str]:
    return {k.strip() for group in re.findall(r"\{cite(?::\w+)?\}`([^`]*)`", text) for k in group.split(",")}


def test_l10_radam_has_one_key_and_one_year():
    entries = bib_entries()
    assert "liu2019radam" not in entries
    radam = [key for key, entry in entries.items() if "1908.03265" in entry]
    assert radam == ["liu2020variance"], radam
    assert re.search(r"year\s*=\s*\{2020\}", entries["liu2020variance"])
    texts = all_chapters_and_banks()
    assert not {w for w, t in texts.items() if "liu2019radam" in t}, "a page cites the removed key"
    cited = set().union(*(cite_keys(t) for t in texts.values()))
    assert cited <= set(entries), f"cited but not in any .bib file: {cited - set(entries)}"
    radam_in_2019 = re.compile(r"Liu et al\.'s 2019|RAdam[^.]{0,40}\b2019\b|\b2019\b[^.]{0,40}RAdam")
    assert not {w for w, t in texts.items() if radam_in_2019.search(t)}, "RAdam's year is 2020 (ICLR)"


def bib_identifiers() -> dict[tuple[str, str], list[str]]:
    """(field, value) -> the keys of every entry in book/*.bib carrying that arXiv id or DOI."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(BOOK.glob("*.bib")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"@\w+\{([^,]+),(.*?)\n\}", text, re.DOTALL):
            key, body = m.groups()
            for field in ("eprint", "doi"):
                value = re.search(field + r"\s*=\s*[{\"]([^}\"]+)[}\"]", body, re.IGNORECASE)
                if value:
                    normalised = re.sub(r"v\d+$", "", value.group(1).strip().lower().removeprefix("https://doi.org/"))
                    found.setdefault((field, normalised), []).append(f"{path.name}:{key}")
    return found


def test_l10_no_two_bibliography_entries_share_an_arxiv_id_or_doi():
    duplicates = {ident: keys for ident, keys in bib_identifiers().items() if len(keys) > 1}
    assert not duplicates, f"one work, several bibliography entries: {duplicates}"


def test_l11_the_preface_says_what_is_reproducible_and_what_is_not():
    text = prose("00-preface")
    assert "seeded, so it is the same on every build" not in text
    assert "same machine with the same pinned packages" in text
    assert near(text, "another CPU", "AVX-512", window=300)


def test_l12_the_landing_page_runs_chapters_with_make_lab():
    text = prose("intro")
    assert "mystnb-to-jupyter" not in text
    assert "`make lab`" in text


def test_l13_deepnorm_init_comment_names_the_paper_not_torchscale():
    blocks = (ROOT / "src" / "normlab" / "nn" / "blocks.py").read_text(encoding="utf-8")
    assert "torchscale's init: Xavier-normal" not in blocks
    assert "DeepNet paper's init (its Figure 2 pseudocode)" in blocks


def test_new_topic_4_layernorm_not_batchnorm_is_measured_and_asked():
    text = prose("03-sublayers")
    assert "(layernorm-not-batchnorm)=" in source("03-sublayers")
    assert "assert ln_worst < 1e-5 and bn_least > 1e-2 and bn_eval_worst < 1e-5" in text
    for claim in ("Batch dependence.", "Padding and variable lengths.", "Leakage across a causal batch."):
        assert claim in text, claim
    assert near(text, "not obvious", "{cite}`ba2016layer` (abstract)", window=200)
    assert 'quiz.show("ch3-batchnorm-causal")' in text
    right = next(c for c in question("03-sublayers", "ch3-batchnorm-causal").choices if c.correct)
    assert "future" in right.explain and "LayerNorm" in right.explain


# --- issue 22's findings that rest on the seed ensembles (issue 21) ---------------------------


def test_m1_warmup_rescue_is_an_ensemble_statement():
    ch9 = prose("09-training-deep-stacks")
    assert "rescues seed 0 but not seed 1" not in ch9
    assert "for both seeds" not in ch9
    assert near(ch9, "A 30-step warm-up rescues many more, but not all", "of 16", window=120)
    assert '"warmup-rescues-some-seeds-not-all"' in ch9  # checked over the ensemble by the cell


def test_m3_post_norm_lower_blocks_are_not_said_to_be_starved():
    ch11, bank = prose("11-small-language-model"), bank_text("11-small-language-model")
    for text in (ch11, bank):
        assert "starved of gradient" not in text and "barely receive a learning signal" not in text
    assert near(ch11, "A small gradient does not mean that a block did not learn", "Adam", window=200)
    assert '"lm-post-norm-lower-blocks-moved"' in ch11  # relative updates ||dW||/||W||, measured
    assert "washed out" in ch11 or "wash out" in ch11


def test_l7_quiz_follows_the_ensemble():
    bank = bank_text("11-small-language-model")
    assert "less than 0.1 nats below" not in bank and "in our run" not in bank


def test_l8_step_0_profiles_name_their_setting_and_agree_with_the_measurements_page():
    ch11 = prose("11-small-language-model")
    assert "both nearly flat at step 0" not in ch11 and "Both of our profiles are flat at step 0" not in ch11
    assert near(ch11, "step-0 profiles of this model", "default initialisation", window=200)
    assert near(ch11, "In the setting of the measurements page", "falls at initialisation in every seed", window=200)
