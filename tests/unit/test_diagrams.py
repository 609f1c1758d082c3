"""normlab.book.diagrams: the timeline and the architecture figure are drawn from their data."""

from normlab.book.diagrams import ARCHITECTURES, TIMELINE, architecture_figure, timeline_figure


def test_timeline_is_in_order_and_drawn():
    years = [year for year, _, _ in TIMELINE]
    assert years == sorted(years) and years[0] == 2016
    texts = [" ".join(t.get_text().split()) for t in timeline_figure().axes[0].texts]  # labels wrap
    assert all(any(event in t for t in texts) for _, event, _ in TIMELINE)


def test_architectures_have_cross_attention_and_a_final_norm():
    encdec = ARCHITECTURES["encoder-decoder (2017, post-norm)"]
    assert any("cross-attention" in label for label, _ in encdec["decoder (x N)"])
    decoder_only = ARCHITECTURES["decoder-only (GPT-2 / LLaMA, pre-norm)"]["decoder (x N)"]
    assert ("final norm", "norm") in decoder_only
    labels = [" ".join(t.get_text().split()) for t in architecture_figure().texts]
    assert "cross-attention (K, V from encoder)" in labels and "final norm" in labels


def test_figures_become_2x_figures_with_alt_text():
    from normlab.demos.figures import show_figure

    html = show_figure(timeline_figure(), alt="timeline of norm placement").data
    assert "<figure" in html and 'alt="timeline of norm placement"' in html and "base64" in html
