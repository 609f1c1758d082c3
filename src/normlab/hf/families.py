"""Where each ``transformers`` model family puts its norms, found by running it.

    from normlab.hf.families import probe_family
    probe_family("llama")    # FamilyProbe(architecture='decoder', placement='pre', norm='RMSNorm', ...)

Nothing here is read from a model card or typed from a paper: each family is built from a
tiny config (random weights, ``HF_HUB_OFFLINE=1``, nothing downloaded), run on a few
tokens, and its last layer is probed with forward hooks:

- a *norm* is any leaf module that is scale invariant, ``m(4a) == m(a)``; it is a
  LayerNorm when it also ignores a shift, ``m(a + 3) == m(a)``, else an RMSNorm;
- the *attention* is the innermost module whose output at later positions changes when
  only the first position of the layer's input is perturbed (the one that mixes tokens);
- **pre**: some norm reads the layer's input unchanged (the branch input is normalised);
- **post**: the layer's output is a norm's output (a norm after the residual add);
- **branch output normalised** (sandwich, res-post): multiplying the attention's output by
  10 or by 30 gives the same layer output, so a norm sits between the attention and its add;
  and adding δ to the last norm's output moves the layer's output by exactly δ, so the
  second branch, too, ends in a norm whose output is added;
- **parallel**: adding δ to the attention's output moves the layer's output by exactly δ:
  nothing downstream (no FFN, no norm) reads the attention's output;
- **QK-norm**: norms called while the attention runs, on per-token values (a change at
  the first position moves their input at that position only): before tokens are mixed;
- **final norm**: a norm outside the layers reads the last layer's output;
- **embedding norm**: a norm outside the layers runs before the first layer.

``probe_block(run, layer)`` does the probing for any PyTorch block (normlab's own blocks
included), so the probes are tested on blocks whose wiring is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .fixtures import _offline_transformers, randomise_

SEQ = 6  # tokens per probe
TOL = 1e-4  # relative tolerance of every "equal" below (float32)

# The tiny sizes every family is built with (a few families need one more setting to run).
TINY_SIZES: dict[str, int] = {
    "hidden_size": 32,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "intermediate_size": 64,
    "vocab_size": 64,
    "max_position_embeddings": 64,
}
_TOKENS = {"pad_token_id": 0, "bos_token_id": 0, "eos_token_id": 0}


@dataclass(frozen=True)
class Family:
    """One row of the table: a ``transformers`` model type and the config settings that
    select the variant (empty: the model type's defaults)."""

    label: str
    model_type: str
    settings: dict[str, Any] = field(default_factory=dict)
    note: str = ""


_KV = {"num_key_value_heads": 2}
FAMILIES: tuple[Family, ...] = (
    Family("BERT", "bert"),
    Family("RoBERTa", "roberta"),
    # ALBERT shares one layer's weights across depth; two groups give two layers to find
    Family("ALBERT", "albert", {"embedding_size": 16, "num_hidden_groups": 2}, "num_hidden_groups=2"),
    Family("DistilBERT", "distilbert", {"dim": 32, "n_heads": 4, "n_layers": 2, "hidden_dim": 64}),
    Family("ELECTRA", "electra", {"embedding_size": 32}),
    Family("T5", "t5", {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_heads": 4, "num_layers": 2}),
    Family("BART", "bart", {"d_model": 32, "encoder_layers": 2, "decoder_layers": 2}),
    Family("mBART", "mbart", {"d_model": 32, "encoder_layers": 2, "decoder_layers": 2}),
    Family("GPT-2", "gpt2"),
    Family("GPT-J", "gptj", {"rotary_dim": 4}),
    Family("GPT-NeoX", "gpt_neox"),
    Family("OPT", "opt", {"ffn_dim": 64, "word_embed_proj_dim": 32}),
    Family("OPT-350m", "opt", {"ffn_dim": 64, "word_embed_proj_dim": 32, "do_layer_norm_before": False}),
    Family("BLOOM", "bloom", {"n_head": 4, "n_layer": 2}),
    Family("Falcon-7B", "falcon", note="FalconConfig's defaults"),
    Family(
        "Falcon-40B",
        "falcon",
        {"new_decoder_architecture": True, "num_kv_heads": 2},
        "new_decoder_architecture=True",
    ),
    Family("LLaMA", "llama", _KV),
    Family("Mistral", "mistral", {**_KV, "sliding_window": None}),
    Family("Qwen2", "qwen2", _KV),
    Family("Qwen3", "qwen3", {**_KV, "head_dim": 8}),
    Family("Gemma", "gemma", {**_KV, "head_dim": 8}),
    Family("Gemma 2", "gemma2", {**_KV, "head_dim": 8, "query_pre_attn_scalar": 8}),
    Family("Gemma 3", "gemma3_text", {**_KV, "head_dim": 8, "query_pre_attn_scalar": 8}),
    Family("OLMo", "olmo", _KV),
    Family("OLMo 2", "olmo2", _KV),
    Family("Phi", "phi"),
    Family("Phi-3", "phi3", _KV),
    Family("StableLM", "stablelm", _KV),
    Family("Cohere", "cohere", _KV),
    Family("Cohere, use_qk_norm", "cohere", {**_KV, "use_qk_norm": True}, "use_qk_norm=True"),
)


def tiny_model(family: Family, seed: int = 0) -> nn.Module:
    """The family's base model (``AutoModel``) from a tiny config, parameters re-randomised
    (``randomise_``), in eval mode; nothing is downloaded."""
    tf = _offline_transformers()
    config = tf.AutoConfig.for_model(family.model_type, **{**TINY_SIZES, **_TOKENS, **family.settings})
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    return randomise_(tf.AutoModel.from_config(config), seed).eval()


# --------------------------------------------------------------------------- numerical tests


def _first_tensor(args: tuple, kwargs: dict) -> torch.Tensor | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value
    return None


def _output_tensor(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def _replace_output(output: Any, tensor: torch.Tensor) -> Any:
    if isinstance(output, torch.Tensor):
        return tensor
    return type(output)((tensor, *output[1:]))


def _tensor(t: torch.Tensor | None) -> torch.Tensor:
    """A recorded tensor that must be there (a module that took or returned no tensor)."""
    if t is None:
        raise RuntimeError("the probe needs a tensor where the module took or returned none")
    return t


def _close(a: torch.Tensor | None, b: torch.Tensor | None, tol: float = TOL) -> bool:
    if a is None or b is None or a.shape != b.shape:
        return False
    return bool((a - b).abs().max() <= tol * (1.0 + b.abs().max()))


def norm_kind(module: nn.Module, example: torch.Tensor) -> str | None:
    """Returns "LayerNorm" if ``module`` is invariant to scaling and to shifting its input,
    "RMSNorm" if only to scaling, None if it is not a norm (tried on ``example``'s shape;
    modules with children are not tried)."""
    if list(module.children()):
        return None
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(example.shape, generator=generator, dtype=example.dtype)
    b = torch.randn(example.shape, generator=generator, dtype=example.dtype)
    try:
        with torch.no_grad():
            out = module(a)
            if not isinstance(out, torch.Tensor) or out.shape != a.shape:
                return None
            if not _close(module(4 * a), out) or _close(module(b), out):
                return None
            return "LayerNorm" if _close(module(a + 3), out) else "RMSNorm"
    except (TypeError, RuntimeError, ValueError):
        return None


@dataclass(eq=False)
class _Call:
    module: nn.Module
    name: str
    order: int
    inputs: torch.Tensor | None
    output: torch.Tensor | None
    inside: tuple[str, ...]  # names of the modules running when it was called


def _record(model: nn.Module, run: Callable[[], Any], edits: dict[nn.Module, Callable] | None = None) -> list[_Call]:
    """Run ``run()`` with every submodule of ``model`` hooked: who was called, in which order,
    inside which modules, with what first input and output. ``edits`` map a module to a
    function applied to its output tensor."""
    edits = edits or {}
    names = {m: n for n, m in model.named_modules()}
    calls: list[_Call] = []
    stack: list[str] = []
    handles = []

    def pre(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        stack.append(names[module])
        calls.append(_Call(module, names[module], len(calls), _first_tensor(args, kwargs), None, tuple(stack[:-1])))

    def post(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
        stack.pop()
        call = next(c for c in reversed(calls) if c.module is module and c.output is None)
        tensor = _output_tensor(output)
        if module in edits and tensor is not None:
            tensor = edits[module](tensor)
            output = _replace_output(output, tensor)
        call.output = tensor
        return output

    for module in names:
        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(module.register_forward_hook(post, with_kwargs=True))
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return calls


# --------------------------------------------------------------------------- probing one block


@dataclass(frozen=True)
class BlockProbe:
    """What the probes found in one block."""

    placement: str  # "post", "pre", "sandwich", "res-post", "parallel", or "unknown"
    norm: str  # "LayerNorm", "RMSNorm", a mix ("LayerNorm + RMSNorm"), or "none"
    n_norms: int  # norms on the residual path (QK-norms not counted)
    qk_norm: str  # "none", "per head" or "over all heads"
    reads_normalised_input: bool  # some norm reads the block's input (pre)
    output_is_normalised: bool  # the block's output is a norm's output (post)
    attention_output_normalised: bool  # the attention's output x10 or x30: the same block output
    attention_output_added_directly: bool  # +δ on the attention's output is +δ on the block's
    last_norm_output_added: bool  # +δ on the last norm's output is +δ on the block's, which is not a norm's


def _find_attention(layer: nn.Module, run: Callable[[], Any], x_calls: list[_Call]) -> tuple[nn.Module, list[_Call]]:
    """The innermost module that mixes positions: perturb position 0 of the block's input and
    find the modules whose (batch, seq, d) output moves at positions >= 1 while their input
    did not. Returns it and the calls of the perturbed run."""

    def bump(t: torch.Tensor) -> torch.Tensor:
        t = t.clone()  # a random direction: a constant shift would vanish in a LayerNorm
        t[:, 0] += torch.randn(t[:, 0].shape, generator=torch.Generator().manual_seed(2), dtype=t.dtype)
        return t

    before = {c.name: c for c in x_calls}
    handle = layer.register_forward_pre_hook(_bump_input(bump), with_kwargs=True)
    try:
        after = _record(layer, run)
    finally:
        handle.remove()
    width = _tensor(x_calls[0].inputs).shape[-1]
    mixers = []
    for call in after:
        old = before.get(call.name)
        if old is None or call.output is None or old.output is None or call.inputs is None or old.inputs is None:
            continue
        if call.output.dim() != 3 or call.output.shape[-1] != width or call.inputs.shape != old.inputs.shape:
            continue
        if call.inputs.dim() < 2 or call.inputs.shape[1] < 2:
            continue
        input_same = _close(call.inputs[:, 1:], old.inputs[:, 1:])
        output_moved = not _close(call.output[:, 1:], old.output[:, 1:])
        if input_same and output_moved and call.module is not layer:
            mixers.append(call)
    if not mixers:
        raise RuntimeError(f"no module of {type(layer).__name__} mixes positions")
    inner = [m for m in mixers if not any(o.name.startswith(m.name + ".") for o in mixers)]
    return inner[0].module, after


def _bump_input(edit: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    def hook(
        module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if args:
            return (edit(args[0]), *args[1:]), kwargs
        kwargs = dict(kwargs)
        kwargs["hidden_states"] = edit(kwargs["hidden_states"])
        return args, kwargs

    return hook


def probe_block(run: Callable[[], Any], layer: nn.Module) -> BlockProbe:
    """Probe the block ``layer`` while ``run()`` runs the model that contains it (or the block
    itself): where its norms sit, found only from numbers (see the module's docstring)."""
    calls = _record(layer, run)
    top = next(c for c in calls if c.module is layer)
    x, y = top.inputs, top.output
    assert x is not None and y is not None, "the block must take and return a tensor"
    attention, bumped = _find_attention(layer, run, calls)
    attention_name = next(n for n, m in layer.named_modules() if m is attention)

    norms: list[tuple[_Call, str]] = []
    for call in calls:
        if call.module is layer or list(call.module.children()) or call.inputs is None:
            continue
        kind = norm_kind(call.module, call.inputs)
        if kind is not None:
            norms.append((call, kind))
    # a QK-norm runs inside the attention, on per-token values (queries, keys) that a change
    # at position 0 leaves alone at the other positions: before the tokens are mixed
    after = {c.order: c for c in bumped}

    def before_mixing(call: _Call) -> bool:
        # at most one position's share of the entries moved (whichever axis holds positions)
        moved = after[call.order].inputs
        inputs = _tensor(call.inputs)
        if moved is None or moved.shape != inputs.shape:
            return False
        changed = (moved - inputs).abs() > TOL * (1.0 + inputs.abs().max())
        return int(changed.sum()) <= changed.numel() // x.shape[1]

    qk = [(c, k) for c, k in norms if attention_name in c.inside and before_mixing(c)]
    path = [(c, k) for c, k in norms if not any(c is q for q, _ in qk)]

    reads_input = any(_close(c.inputs, x) for c, _ in path)
    output_normed = any(_close(c.output, y) for c, _ in path)

    def y_with(edit: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        edited = _record(layer, run, edits={attention: edit})
        return _tensor(next(c for c in edited if c.module is layer).output)

    attn_out = _tensor(next(c for c in calls if c.module is attention).output)
    delta = torch.randn(attn_out.shape, generator=torch.Generator().manual_seed(1)) * attn_out.abs().mean()
    # scale invariance, with the norm's epsilon made negligible: x10 and x30 give the same output
    scaled_same = _close(y_with(lambda t: 10 * t), y_with(lambda t: 30 * t))
    added_directly = _close(y_with(lambda t: t + delta) - y, delta)
    # the second branch: does its last norm write straight into the sum (sandwich, res-post)?
    last_norm = max(path, key=lambda ck: ck[0].order)[0].module if path else None
    last_added = False
    if last_norm is not None and not output_normed:
        shift = torch.randn(y.shape, generator=torch.Generator().manual_seed(3)) * y.abs().mean()
        edited = _record(layer, run, edits={last_norm: lambda t: t + shift if t.shape == shift.shape else t})
        last_added = _close(_tensor(next(c for c in edited if c.module is layer).output) - y, shift)

    if added_directly:
        placement = "parallel"
    elif output_normed and not reads_input:
        placement = "post"
    elif scaled_same and last_added:
        placement = "sandwich" if reads_input else "res-post"
    elif scaled_same != last_added:
        placement = "unknown"  # one branch's output normalised, the other's not
    elif reads_input and not output_normed:
        placement = "pre"
    else:
        placement = "unknown"
    kinds = sorted({k for _, k in path})
    qk_norm = "none"
    if qk:
        qk_norm = "over all heads" if _tensor(qk[0][0].inputs).shape[-1] == x.shape[-1] else "per head"
    return BlockProbe(
        placement=placement,
        norm=" + ".join(kinds) if kinds else "none",
        n_norms=len({id(c.module) for c, _ in path}),
        qk_norm=qk_norm,
        reads_normalised_input=reads_input,
        output_is_normalised=output_normed,
        attention_output_normalised=scaled_same,
        attention_output_added_directly=added_directly,
        last_norm_output_added=last_added,
    )


# --------------------------------------------------------------------------- probing a whole family


@dataclass(frozen=True)
class FamilyProbe:
    """One row of the table: the family's architecture and its last layer's probe, plus the
    norms outside the layers."""

    family: str
    architecture: str  # "encoder", "decoder" or "encoder–decoder"
    block: BlockProbe
    final_norm: bool
    embedding_norm: bool
    layer_class: str

    def row(self) -> dict[str, str]:
        """The row as the page prints it."""
        b = self.block
        placement = b.placement
        if placement == "parallel":
            placement += ", one norm" if b.n_norms == 1 else f", {b.n_norms} norms"
        return {
            "family": self.family,
            "architecture": self.architecture,
            "placement": placement,
            "norm": b.norm,
            "final norm": "yes" if self.final_norm else "no",
            "QK-norm": b.qk_norm,
            "embedding norm": "yes" if self.embedding_norm else "no",
            "layer probed": self.layer_class,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _layers(model: nn.Module) -> nn.ModuleList:
    """The first ModuleList of ``num_hidden_layers`` blocks met walking the model: the
    decoder's in a decoder-only model, the encoder's in an encoder–decoder."""
    n = TINY_SIZES["num_hidden_layers"]
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise RuntimeError(f"no list of {n} layers in {type(model).__name__}")


def _is_causal(model: nn.Module, ids: torch.Tensor, run_kwargs: dict) -> bool:
    """Changing the last token leaves the first position's output unchanged."""
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % TINY_SIZES["vocab_size"]
    with torch.no_grad():
        a = _hidden(model(input_ids=ids, **run_kwargs))
        b = _hidden(model(input_ids=changed, **run_kwargs))
    return _close(a[:, 0], b[:, 0])


def _hidden(output: Any) -> torch.Tensor:
    return output.encoder_last_hidden_state if hasattr(output, "encoder_last_hidden_state") else output[0]


@contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny matrices: one thread is several times faster than many on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def probe_family(family: Family | str, seed: int = 0) -> FamilyProbe:
    """Build ``family`` (a ``Family`` or a label of ``FAMILIES``) from its tiny config and
    probe it."""
    if isinstance(family, str):
        family = next(f for f in FAMILIES if f.label == family)
    with _one_thread():
        return _probe_family(family, seed)


def _probe_family(family: Family, seed: int) -> FamilyProbe:
    model = tiny_model(family, seed)
    ids = torch.randint(1, TINY_SIZES["vocab_size"], (1, SEQ), generator=torch.Generator().manual_seed(seed))
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    kwargs = {"decoder_input_ids": ids} if encoder_decoder else {}

    def run() -> Any:
        return model(input_ids=ids, **kwargs)

    layers = _layers(model)
    block = probe_block(run, layers[-1])

    # norms outside the layers: which reads the last layer's output, which writes the first's input
    calls = _record(model, run)
    first = next(c for c in calls if c.module is layers[0])
    last = next(c for c in calls if c.module is layers[-1])
    inside = {id(m) for m in layers.modules()}
    outside = [
        c
        for c in calls
        if id(c.module) not in inside
        and not list(c.module.children())
        and c.inputs is not None
        and norm_kind(c.module, c.inputs)
    ]
    final = any(_close(c.inputs, last.output) for c in outside)
    embedding = any(c.order < first.order for c in outside)
    if encoder_decoder:
        architecture = "encoder–decoder"
    else:
        architecture = "decoder" if _is_causal(model, ids, kwargs) else "encoder"
    return FamilyProbe(family.label, architecture, block, final, embedding, type(layers[-1]).__name__)


def family_table(families: tuple[Family, ...] = FAMILIES) -> list[dict[str, str]]:
    """Every family probed: one row each, as ``FamilyProbe.row`` prints it."""
    return [probe_family(f).row() for f in families]


# --------------------------------------------------------------------------- the reference facts

FACTS = Path(__file__).resolve().parents[3] / "book" / "references" / "facts.md"

# our row -> the model named in the first column of facts.md's section 4 table
FACTS_ROW: dict[str, str] = {
    "BERT": "BERT",
    "GPT-2": "GPT-2, GPT-3",
    "T5": "T5",
    "LLaMA": "LLaMA 1/2/3, Mistral",
    "Mistral": "LLaMA 1/2/3, Mistral",
    "GPT-J": "PaLM, GPT-J, Falcon-7B",
    "Falcon-7B": "PaLM, GPT-J, Falcon-7B",
    "GPT-NeoX": "GPT-NeoX, Pythia, Falcon-40B/180B",
    "Falcon-40B": "GPT-NeoX, Pythia, Falcon-40B/180B",
    "BLOOM": "BLOOM",
    "OPT": "OPT",
    "OPT-350m": "OPT",
    "Gemma 2": "Gemma 2 / 3",
    "Gemma 3": "Gemma 2 / 3",
    "OLMo 2": "OLMo 2",
}


def facts_table(path: Path = FACTS) -> dict[str, tuple[str, str]]:
    """Section 4 of facts.md ("Which models use which placement"): model -> (placement, norm)."""
    text = path.read_text()
    section = text[text.index("## 4.") : text.index("## 5.")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("model", "") and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def facts_claims(label: str, placement: str, norm: str) -> dict[str, str]:
    """What a facts.md row says about the family ``label``, in the columns of ``FamilyProbe.row``
    (only what the row mentions)."""
    claims = {}
    variant = re.search(rf"\({re.escape(label)} ([\w-]+)\)", placement)  # "pre (OPT-350m post)"
    named = variant or re.match(r"(res-post|post|pre|parallel|sandwich)", placement)
    if named is None:
        raise ValueError(f"facts.md: no placement in {placement!r}")
    kind = named.group(1)
    claims["placement"] = kind
    if kind == "parallel":
        count = re.search(r"(one|two) norms?", placement)
        if count:
            claims["placement"] += ", one norm" if count.group(1) == "one" else ", 2 norms"
    if "no final" in placement:
        claims["final norm"] = "no"
    elif "final" in placement:
        claims["final norm"] = "yes"
    if "after embeddings" in placement:
        claims["embedding norm"] = "yes"
    some = re.search(r"\((\d+) adds QK-norm\)", placement)  # "sandwich (3 adds QK-norm)"
    if some:
        claims["QK-norm"] = "yes" if label.endswith(some.group(1)) else "none"
    elif "QK-norm" in placement:
        claims["QK-norm"] = "yes"
    claims["norm"] = "RMSNorm" if norm.startswith("RMS") else "LayerNorm" if norm.startswith("LN") else norm
    return claims


def compare_with_facts(rows: list[dict[str, str]], path: Path = FACTS) -> list[dict[str, str]]:
    """For each probed row that facts.md covers: what facts.md says, what was detected, and
    whether they agree (a QK-norm "yes" agrees with "per head" or "over all heads")."""
    facts = facts_table(path)
    out = []
    for row in rows:
        if row["family"] not in FACTS_ROW:
            continue
        model = FACTS_ROW[row["family"]]
        claims = facts_claims(row["family"], *facts[model])
        detected = {k: row[k] for k in claims}
        if detected.get("QK-norm") not in (None, "none"):
            detected["QK-norm"] = "yes"
        differ = [k for k in claims if claims[k] != detected[k]]
        out.append(
            {
                "family": row["family"],
                "facts.md row": model,
                "facts.md says": "; ".join(f"{k}: {v}" for k, v in claims.items()),
                "agrees": "yes" if not differ else "no: " + ", ".join(f"{k} is {detected[k]}" for k in differ),
            }
        )
    return out
