"""The machinery every exercise's checks share.

A *visible check* is a function registered with ``@question``: the notebook's test
cell calls it with the student's answer, it raises ``CheckFailed`` (an
AssertionError) whose message names the misconception, or prints that the visible
checks passed and how many hidden checks will also run at grading.

*Hidden checks* live only in the instructor's source notebook. They call the
``expect*`` helpers below with the right answer or with a reference computation
written inside the hidden test, so the released package never carries an answer key.

Every check runs seeded (without disturbing the student's own RNG state) and with
warnings silenced: nbgrader gives 0 points to a test cell that writes to stderr, so a
PyTorch warning must never cost a point.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import sys
import sysconfig
import traceback
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor


class CheckFailed(AssertionError):
    """A check found a mistake; the message says which one and how to fix it.

    In a notebook, IPython shows only the message (``_render_traceback_``): the checks'
    own frames say nothing to a student. When the student's code raised, its traceback
    (their frames only) comes first, as Python would print it.
    """

    def _render_traceback_(self) -> list[str]:
        lines = student_traceback(self.__cause__) if self.__cause__ is not None else []
        return lines + [f"{type(self).__name__}: {self}"]


class NotAnswered(CheckFailed):
    """The answer is still the notebook's placeholder (``raise NotImplementedError()``)
    or the given code the student was asked to fix."""


_CHECKS_DIR = str(Path(__file__).resolve().parent)
_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], sysconfig.get_paths()["stdlib"]}
)


def student_traceback(error: BaseException) -> list[str]:
    """``error``'s traceback with the frames of normlab's checks and of installed libraries
    (torch, the standard library) left out: what remains is the student's own code."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not str(Path(f.filename).resolve()).startswith((_CHECKS_DIR,) + _LIBRARY_DIRS)
    ]
    lines = ["Traceback of your code (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(error), error)
    return ["".join(lines).rstrip("\n")]


def error_text(error: BaseException) -> str:
    """'RuntimeError: message', or just 'RuntimeError' when the message is empty."""
    message = str(error).strip()
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def expect(condition: object, message: str) -> None:
    """Raise CheckFailed(message) unless condition holds. One hidden check = one call."""
    if not condition:
        raise CheckFailed(message)


# --------------------------------------------------------------------------- quiet, seeded


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Python warnings (PyTorch's included) for the duration of a check."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def seeded(seed: int = 0) -> Iterator[None]:
    """Run with torch seeded to ``seed``; the caller's RNG state is restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Question:
    assignment: str
    key: str  # the check function's name
    title: str  # what the student sees, e.g. "Q1 post-norm order"
    answers: tuple[str, ...]  # notebook names passed to the check, in order
    hidden: int  # hidden checks that run at grading
    check: Callable[..., None]
    format_only: bool = False  # the visible check cannot tell a wrong answer from a right one
    hidden_tests: str = "other sizes, seeds and gradients"  # what the hidden checks try


REGISTRY: dict[str, dict[str, Question]] = {}
_GIVEN: dict[str, list] = {}  # assignment -> the given (buggy) code a student must fix
_current_assignment: str | None = None

FORMAT_ONLY = "format only: the hidden checks decide"


def question(
    assignment: str,
    title: str,
    answers: Iterable[str],
    hidden: int,
    format_only: bool = False,
    hidden_tests: str = "other sizes, seeds and gradients",
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a visible check; the returned function is what the test cell calls.

    ``format_only`` marks a check that only checks the answer's form (a letter, a name):
    it then says so instead of claiming that the answer passed."""

    def register(check: Callable[..., None]) -> Callable[..., None]:
        q = Question(assignment, check.__name__, title, tuple(answers), hidden, check, format_only, hidden_tests)
        REGISTRY.setdefault(assignment, {})[q.key] = q

        @functools.wraps(check)
        def run(*answers: Any) -> None:
            run_visible(q, *answers)
            if q.format_only:
                print(f"{q.title}: well-formed; {FORMAT_ONLY} whether it is right.")
            else:
                print(f"{q.title}: visible checks passed.")
            print(hidden_note(q))

        run.question = q  # type: ignore[attr-defined]  # the graders read it off the check
        return run

    return register


def multiple_choice(
    assignment: str, key: str, title: str, answer: str, options: str, select_all: bool = False, hidden: int = 1
) -> Callable[..., None]:
    """Register a multiple-choice question whose visible check only checks the format
    (one letter, or a set of letters with ``select_all``); its hidden test grades it."""
    check_format = check_selection if select_all else check_choice

    def check(given: Any) -> None:
        check_format(given, options, answer)

    check.__name__ = key
    what = "which options are right, with partial credit" if select_all else "whether your choice is right"
    return question(assignment, title, [answer], hidden, format_only=True, hidden_tests=what)(check)


def hidden_note(q: Question) -> str:
    if q.hidden == 0:
        return "No hidden checks for this question."
    s = "" if q.hidden == 1 else "s"
    verb = "decides" if q.hidden == 1 else "decide"
    if q.format_only:
        return f"{q.hidden} hidden check{s} {verb} at grading ({q.hidden_tests})."
    return (
        f"{q.hidden} hidden check{s} will also run at grading "
        f"({q.hidden_tests}), so passing here is not yet full marks."
    )


def given(*objects: Any) -> None:
    """Mark the notebook's given (buggy) code, so that ``self_check`` reports a question whose
    answer is still that code as not answered yet instead of listing every fix."""
    if _current_assignment is None:
        raise ValueError("run the notebook's first cell (checks.setup) before checks.given(...)")
    _GIVEN.setdefault(_current_assignment, []).extend(objects)


def _is_given(assignment: str, value: Any) -> bool:
    return any(value is obj for obj in _GIVEN.get(assignment, ()))


def run_visible(q: Question, *answers: Any) -> None:
    """Run q's visible check quietly and seeded; any error becomes a CheckFailed."""
    try:
        with quiet(), seeded(0):
            q.check(*answers)
    except CheckFailed as failure:
        raise type(failure)(f"{q.title}: {failure}") from None
    except NotImplementedError:
        raise NotAnswered(
            f"{q.title}: not answered yet: your code still raises NotImplementedError; "
            "replace the `raise NotImplementedError()` line with your answer "
            "and run the cell"
        ) from None
    except Exception as error:  # the student's code raised: say so, keep their traceback
        raise CheckFailed(f"{q.title}: your code raised {error_text(error)}") from error


def setup(assignment: str) -> None:
    """First cell of every exercise notebook: remember which assignment this is."""
    global _current_assignment
    if assignment not in REGISTRY:
        raise ValueError(f"unknown assignment {assignment!r}: expected one of {sorted(REGISTRY)}")
    _current_assignment = assignment
    torch.manual_seed(0)
    n = len(REGISTRY[assignment])
    print(
        f"normlab checks ready for '{assignment}' ({n} graded checks). "
        "Run normlab.checks.self_check() at any time for a summary."
    )


def self_check(assignment: str | None = None, namespace: Mapping | None = None) -> dict[str, str]:
    """Run every visible check of this assignment on the notebook's answers and print a
    per-question summary. Reveals neither hidden checks nor answers.

    Returns {question title: "passed" | "format ok" | "failed" | "not answered"}; the
    notebook cell that calls it should end with ``;`` or assign the result.
    """
    assignment = assignment or _current_assignment
    if assignment not in REGISTRY:
        raise ValueError(
            "self_check() needs the assignment name, e.g. self_check('ordering'), "
            "or run the notebook's first cell (checks.setup) first"
        )
    if namespace is None:
        namespace = sys._getframe(1).f_globals  # the notebook's own variables
    summary, hidden_total = {}, 0
    print(f"Self-check for '{assignment}' (visible checks only)")
    for q in REGISTRY[assignment].values():
        hidden_total += q.hidden
        missing = [name for name in q.answers if name not in namespace]
        if missing:
            summary[q.title] = "not answered"
            print(f"  [ ] {q.title}: not answered yet (define {', '.join(missing)})")
            continue
        values = [namespace[name] for name in q.answers]
        still_given = [name for name, value in zip(q.answers, values) if _is_given(assignment, value)]
        if still_given:
            summary[q.title] = "not answered"
            print(
                f"  [ ] {q.title}: not answered yet ({', '.join(still_given)} is still the given "
                "code: write your fix in the answer cell and run it)"
            )
            continue
        try:
            run_visible(q, *values)
        except NotAnswered as failure:
            summary[q.title] = "not answered"
            print(f"  [ ] {failure}")
        except CheckFailed as failure:
            summary[q.title] = "failed"
            print(f"  [x] {failure}")
        else:
            if q.format_only:
                summary[q.title] = "format ok"
                print(f"  [~] {q.title}: well-formed; {FORMAT_ONLY} (+{q.hidden} at grading)")
            else:
                summary[q.title] = "passed"
                print(f"  [v] {q.title}: visible checks pass (+{q.hidden} hidden at grading)")
    passed = sum(v == "passed" for v in summary.values())
    formatted = sum(v == "format ok" for v in summary.values())
    line = f"{passed}/{len(summary)} questions pass their visible checks"
    if formatted:
        line += (
            f", {formatted} more {'is' if formatted == 1 else 'are'} well-formed "
            "(format only: the hidden checks decide)"
        )
    print(f"{line}; {hidden_total} hidden checks will also run at grading.")
    return summary


# --------------------------------------------------------------------------- answers


def check_choice(answer: Any, options: str, name: str) -> str:
    """A multiple-choice answer: one letter out of ``options``; returns it upper-cased."""
    expect(
        isinstance(answer, str) and answer.strip() != "",
        f'{name} must be one letter as a string, e.g. {name} = "{options[0]}"; got {answer!r}',
    )
    letter = answer.strip().upper()
    expect(
        len(letter) == 1 and letter in options,
        f"{name} must be one of {', '.join(options)} (just the letter); got {answer!r}",
    )
    return letter


def check_selection(answer: Any, options: str, name: str) -> set[str]:
    """A select-all-that-apply answer: a set (or list) of letters out of ``options``."""
    expect(
        isinstance(answer, (set, list, tuple, frozenset)),
        f'{name} must be a set of letters, e.g. {name} = {{"{options[0]}", "{options[1]}"}}; '
        f"got {type(answer).__name__}",
    )
    letters = set()
    for item in answer:
        expect(
            isinstance(item, str) and item.strip().upper() in options and len(item.strip()) == 1,
            f"{name}: every item must be one letter out of {', '.join(options)}; got {item!r}",
        )
        letters.add(item.strip().upper())
    expect(letters, f"{name} is empty: select at least one option")
    return letters


def check_name(answer: Any, allowed: Iterable[str], name: str) -> str:
    """An answer that is one name out of ``allowed``, with a did-you-mean hint for typos."""
    allowed = tuple(allowed)
    expect(isinstance(answer, str), f"{name} must be a string, one of {allowed}; got {answer!r}")
    if answer not in allowed:
        close = difflib.get_close_matches(answer, allowed, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CheckFailed(f"{name}: {answer!r} is not one of {allowed}.{hint}")
    return answer


def expect_choice(answer: Any, correct: str, why: Mapping[str, str], name: str) -> None:
    """Hidden check of a multiple-choice (or one-name) answer, case-insensitive;
    ``why`` explains each wrong option."""
    given = answer.strip() if isinstance(answer, str) else answer
    if not (isinstance(given, str) and given.upper() == correct.upper()):
        explanation = next(
            (why[k] for k in why if isinstance(given, str) and k.upper() == given.upper()),
            "Re-read the scenario and the facts it rests on.",
        )
        raise CheckFailed(f"{name} = {answer!r} is not the best answer. {explanation}")


def expect_order(answer: Any, correct: Iterable[str], mistakes: Mapping[tuple, str], name: str) -> None:
    """Hidden check of an ordering answer; ``mistakes`` maps known wrong orders to feedback."""
    answer, correct = tuple(answer), tuple(correct)
    if answer != correct:
        raise CheckFailed(
            f"{name} is not in the right order. " + mistakes.get(answer, "Trace what happens to x step by step.")
        )


def selection_credit(answer: Any, correct: set[str], points: float, why: Mapping[str, str], name: str) -> float:
    """Hidden check of a select-all answer: partial credit, printed feedback per option.

    Score = points * max(0, right picks - wrong picks) / len(correct); the notebook's test
    cell returns it as its last expression, which nbgrader reads as partial credit.
    """
    chosen = {a.strip().upper() for a in answer}
    right, wrong = chosen & correct, chosen - correct
    for letter in sorted(correct - chosen):
        print(f"{name}: missed {letter}. {why.get(letter, '')}")
    for letter in sorted(wrong):
        print(f"{name}: {letter} should not be selected. {why.get(letter, '')}")
    score = points * max(0, len(right) - len(wrong)) / len(correct)
    return round(score, 2)


# --------------------------------------------------------------------------- tensors


def plain(value: torch.Tensor) -> torch.Tensor:
    """``value``'s numbers as a plain, detached torch.Tensor.

    A tensor subclass (or a torch function mode) can override ``__torch_function__`` so
    that ``torch.allclose`` or ``.shape`` lies; with that dispatch switched off, the checks
    see the real numbers."""
    with torch._C.DisableTorchFunction():
        return value.detach().as_subclass(torch.Tensor)


def expect_tensor(value: Any, shape: tuple[int, ...] | None, what: str, hint: str = "") -> torch.Tensor:
    """``value`` as a plain tensor (see :func:`plain`), after checking its type and shape."""
    expect(isinstance(value, torch.Tensor), f"{what} should be a torch.Tensor, got {type(value).__name__}")
    value = plain(value)
    if shape is not None:
        expect(
            tuple(value.shape) == tuple(shape),
            f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}" + (f": {hint}" if hint else ""),
        )
    return value


def expect_close(
    actual: Any, expected: torch.Tensor, what: str, hint: str = "", atol: float = 1e-5, rtol: float = 1e-4
) -> None:
    """Compare a tensor with a reference; the message gives the largest difference."""
    actual = expect_tensor(actual, tuple(expected.shape), what).to(expected.dtype)
    expected = plain(expected)
    if not torch.allclose(actual, expected, atol=atol, rtol=rtol, equal_nan=False):
        diff = (actual - expected).abs()
        worst = diff.max().item() if torch.isfinite(diff).all() else float("nan")
        raise CheckFailed(
            f"{what} differs from the reference (largest difference {worst:.3g})" + (f": {hint}" if hint else "")
        )


def expect_grads_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    wrt: Mapping[str, torch.Tensor],
    what: str,
    hint: str = "",
    atol: float = 1e-5,
) -> None:
    """Compare the gradients that flow back from ``actual`` and from the reference ``expected``
    into each tensor of ``wrt`` (the input, parameters), for one fixed random upstream gradient."""
    upstream = torch.randn(expected.shape, generator=torch.Generator().manual_seed(0))
    names, tensors = list(wrt), list(wrt.values())
    got = torch.autograd.grad((actual * upstream).sum(), tensors, retain_graph=True, allow_unused=True)
    want = torch.autograd.grad((expected * upstream).sum(), tensors, retain_graph=True, allow_unused=True)
    for name, g, w in zip(names, got, want):
        if w is None:
            continue
        expect(g is not None, f"{what}: no gradient reaches {name}, but it should" + (f": {hint}" if hint else ""))
        expect_close(g, w, f"{what}: the gradient w.r.t. {name}", hint, atol=atol)


def close(a: Any, b: Any, atol: float = 1e-5) -> bool:
    """True when a and b are tensors of one shape with the same values."""
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    a, b = plain(a), plain(b)
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), atol=atol, rtol=1e-4)


def match(value: Any, candidates: Mapping[str, torch.Tensor]) -> str | None:
    """Which candidate computation ``value`` equals, if any (first match wins)."""
    for name, candidate in candidates.items():
        if close(value, candidate):
            return name
    return None


class Spy:
    """Wrap a callable (a norm, a sub-layer function) and record its inputs."""

    def __init__(self, fn: Callable, name: str) -> None:
        self.fn, self.name = fn, name
        self.inputs: list[Tensor] = []

    def __call__(self, x: Tensor, *args: Any, **kwargs: Any) -> Any:
        self.inputs.append(x)
        return self.fn(x, *args, **kwargs)


def module_spy(module: torch.nn.Module) -> list:
    """Record (input, output) of every call of ``module``; returns the list it fills."""
    calls = []
    module.register_forward_hook(lambda mod, args, out: calls.append((args[0] if args else None, out)))
    return calls


# --------------------------------------------------------------------------- no reference answers

_ALLOWED_FROM_NORMLAB = {"normlab.checks", "normlab.checks._core"}


def _normlab_origin(obj: Any) -> str | None:
    """'normlab.nn.blocks.PreNormBlock' if obj is (part of) normlab's library, else None."""
    if isinstance(obj, types.ModuleType):
        module = obj.__name__
        label = module
    else:
        found = getattr(obj, "__module__", None)
        module = found if isinstance(found, str) else ""
        if not isinstance(found, str):
            module = getattr(type(obj), "__module__", "") or ""
            label = f"{module}.{type(obj).__qualname__}"
        else:
            label = f"{module}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"
    if (module == "normlab" or module.startswith("normlab.")) and not module.startswith("normlab.checks"):
        return label
    return None


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _functions_of(obj: Any) -> Iterator[Callable[..., Any]]:
    """The plain functions whose code makes up obj (a function, a class or an instance)."""
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        yield from (f for f in (obj.fget, obj.fset, obj.fdel) if f is not None)
    elif isinstance(obj, types.MethodType):
        yield obj.__func__
    elif isinstance(obj, types.FunctionType):
        yield obj
    elif isinstance(obj, type):
        for value in vars(obj).values():
            yield from _functions_of(value)


def uses_normlab(obj: Any, _seen: set | None = None) -> str | None:
    """Name the normlab library object that ``obj`` is, subclasses, holds or refers to."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return None
    seen.add(id(obj))
    origin = _normlab_origin(obj)
    if origin:
        return origin
    if isinstance(obj, type):
        for base in obj.__mro__[1:]:
            if _normlab_origin(base):
                return _normlab_origin(base)
    if isinstance(obj, torch.nn.Module):
        for sub in obj.modules():
            if _normlab_origin(sub):
                return _normlab_origin(sub)
        return uses_normlab(type(obj), seen)
    for fn in _functions_of(obj):
        cells = [c.cell_contents for c in (fn.__closure__ or ()) if _has_contents(c)]
        referenced = [fn.__globals__.get(name) for code in _code_objects(fn.__code__) for name in code.co_names] + cells
        for value in referenced:
            if value is None or isinstance(value, (int, float, str, bool)):
                continue
            found = _normlab_origin(value)
            if found:
                return found
            if getattr(value, "__module__", None) == fn.__module__ and (isinstance(value, (type, types.FunctionType))):
                found = uses_normlab(value, seen)  # a helper the student wrote
                if found:
                    return found
    return None


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (reading an empty cell raises ValueError)
    except ValueError:
        return False
    return True


def reject_normlab(obj: Any, name: str) -> None:
    """Fail when a student's answer is, or uses, normlab's reference implementation."""
    origin = uses_normlab(obj)
    expect(
        origin is None,
        f"your {name} uses normlab's reference implementation ({origin}). "
        "Answers must be written yourself: normlab's blocks, attention, feed-forward and "
        "shape helpers are what this exercise asks you to build, so they are not accepted here.",
    )


def expect_function(fn: Callable[..., Any], name: str, n_args: int) -> None:
    expect(callable(fn), f"{name} should be a function, got {type(fn).__name__}")
    reject_normlab(fn, name)
    try:
        inspect.signature(fn).bind(*range(n_args))
    except TypeError:
        raise CheckFailed(
            f"{name} should take {n_args} arguments; its signature is {name}{inspect.signature(fn)}"
        ) from None
    except ValueError:
        pass
