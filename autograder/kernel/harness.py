"""In-kernel guard: put back what student code replaced before each test cell runs.

A student cell can write `torch.allclose = lambda *a, **k: True`, replace a helper
in `normlab.checks`, `builtins.print` or `torch.Tensor.__eq__`, or install an IPython
hook that swallows exceptions.  The zygote takes a snapshot of the protected
modules BEFORE any student code exists (`take_snapshot`); the grader calls
`before_test()` right before every autograded test cell and `after_test()` right
after it (through `user_expressions`, so their results never appear as output):

* before_test() restores every replaced name and every hook, removes torch
  function modes, switches tensor subclasses' `__torch_function__` off for the
  test, and reports what it restored (the grader writes it into the report);
* after_test() reports names that were replaced WHILE the test ran (e.g. by the
  student's function when the test called it); the grader gives that test 0.

Strength, honestly: this runs in the same process as the student's code, so it
stops monkeypatching (the realistic cheat), lying tensor subclasses and torch
function modes, and makes deeper tampering visible; but a student who
reverse-engineers this module (gc.get_objects() reaches the snapshot, ctypes
reaches anything) can still defeat it.  Cheat-proof tests would send plain values
out of the kernel and compare them in the grader.
"""

from __future__ import annotations

import builtins
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing only: nothing more is imported into the kernel (the guard snapshots its own names)
    from collections.abc import Callable
    from types import CodeType, FunctionType

    # (label, function, its original __code__, __defaults__, __kwdefaults__)
    _CodeEntry = tuple[str, FunctionType, CodeType, tuple[object, ...] | None, dict[str, object] | None]
    # (label, module or class, attribute, its original value)
    _ChangedName = tuple[str, object, str, object]

PROTECTED_MODULES = (
    "builtins",
    "torch",
    "torch.testing",
    "torch.nn",
    "torch.nn.functional",
    "math",
    "numpy",
    "numpy.testing",
    "normlab",
    "normlab.checks",
    "unittest",
    "json",
    "hmac",
    "linecache",
    "autograder.kernel.harness",  # the guard itself: replacing its functions is undone too
)
# IPython itself rebinds these builtins in every kernel; they are not tampering.
IPYTHON_BUILTINS = {
    "exit",
    "quit",
    "get_ipython",
    "display",
    "_",
    "__",
    "___",
    "help",
    "input",
    "copyright",
    "credits",
    "license",
}
PROTECTED_CLASSES = (("torch", "Tensor"), ("torch.nn", "Module"))
_SYS_HOOKS = ("excepthook", "displayhook", "breakpointhook", "stdout", "stderr")

_snapshot: dict = {}  # "module.name" -> (container, {attr: value})
_code: dict = {}  # id(function) -> (label, function, __code__, __defaults__, __kwdefaults__)
_modules: dict = {}  # module name -> module object
_sys_hooks: dict = {}
_shell_state: dict = {}


def _is_code(value: object) -> bool:
    """Functions, classes and modules are protected; plain data (e.g. the assignment name
    `checks.setup()` stores) is module state that notebooks legitimately change."""
    return callable(value) or isinstance(value, type(sys))


def take_snapshot() -> None:
    """Called once in the zygote, before any student code: remember the originals."""
    names = list(PROTECTED_MODULES) + sorted(m for m in sys.modules if m.startswith("normlab."))
    for name in dict.fromkeys(names):
        module = sys.modules.get(name)
        if module is None and name != "builtins":
            continue
        module = module or builtins
        _modules[name] = module
        _snapshot[name] = (module, {k: v for k, v in vars(module).items() if _is_code(v)})
    for module_name, class_name in PROTECTED_CLASSES:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, class_name):
            cls = getattr(module, class_name)
            _snapshot[f"{module_name}.{class_name}"] = (cls, dict(vars(cls)))
    # A function object can stay the same while its `__code__` (or its defaults) is
    # swapped: `checks.expect_choice.__code__ = (lambda *a, **k: None).__code__`.
    for label, (_, names) in _snapshot.items():
        for attr, value in names.items():
            function = getattr(value, "__func__", value)  # staticmethod / classmethod
            if isinstance(function, _FunctionType) and id(function) not in _code:
                _code[id(function)] = (
                    f"{label}.{attr}",
                    function,
                    function.__code__,
                    function.__defaults__,
                    function.__kwdefaults__,
                )


def attach_shell(shell: Any, secret: bytes = b"") -> None:  # an IPython InteractiveShell
    """Called in the forked child once the kernel is initialised (before any cell runs):
    remember the kernel's own output streams and IPython hooks, and restore the
    protected names right after EVERY cell (a replaced builtin such as `tuple` would
    otherwise break the kernel's own reply to the grader)."""
    shell.events.register("post_run_cell", _after_every_cell)
    for name in _SYS_HOOKS:
        _sys_hooks[name] = getattr(sys, name)
    _shell_state.update(
        shell=shell,
        showtraceback=type(shell).showtraceback,
        run_cell=type(shell).run_cell,
        input_transformers_post=list(shell.input_transformers_post),
        input_transformers_cleanup=list(shell.input_transformers_cleanup),
        ast_transformers=list(shell.ast_transformers),
        events={name: list(cbs) for name, cbs in shell.events.callbacks.items()},
    )
    sys.modules["autograder.kernel.harness"] = sys.modules[__name__]
    global answer
    answer = _make_entry(secret)
    entry = _code.get(id(answer))
    _snapshot[__name__] = (sys.modules[__name__], {**_snapshot.get(__name__, (None, {}))[1], "answer": answer})
    for function in (answer,):
        _code[id(function)] = (
            f"{__name__}.answer",
            function,
            function.__code__,
            function.__defaults__,
            function.__kwdefaults__,
        )
    del entry


def _changed_names() -> list[_ChangedName]:
    changed = []
    for label, (container, original) in _snapshot.items():
        current = vars(container)
        is_class = isinstance(container, type)
        for attr, value in original.items():
            if attr in ("__dict__", "__weakref__", "__doc__") or attr in IPYTHON_BUILTINS:
                continue
            if not is_class and attr.startswith("__"):
                continue
            if current.get(attr, _MISSING) is not value:
                changed.append((label, container, attr, value))
    return changed


_MISSING = object()
_FunctionType = type(_is_code)


def _changed_code() -> list[_CodeEntry]:
    return [
        entry
        for entry in _code.values()
        if entry[1].__code__ is not entry[2]
        or entry[1].__defaults__ is not entry[3]
        or entry[1].__kwdefaults__ is not entry[4]
    ]


def _restore_names() -> list[str]:
    restored = []
    for label, function, code, defaults, kwdefaults in _changed_code():
        function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
        restored.append(f"{label}.__code__")
    for label, container, attr, value in _changed_names():
        try:
            if isinstance(container, type):
                setattr(container, attr, value)
            else:
                vars(container)[attr] = value
            restored.append(f"{label}.{attr}")
        except (AttributeError, TypeError):
            restored.append(f"{label}.{attr} (could not restore)")
    for name, module in _modules.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            restored.append(f"sys.modules[{name!r}]")
    return restored


def _restore_hooks() -> list[str]:
    restored = []
    for name, value in _sys_hooks.items():
        if getattr(sys, name) is not value:
            setattr(sys, name, value)
            restored.append(f"sys.{name}")
    if sys.gettrace() is not None:
        sys.settrace(None)
        restored.append("sys.settrace")
    if sys.getprofile() is not None:
        sys.setprofile(None)
        restored.append("sys.setprofile")
    shell = _shell_state.get("shell")
    if shell is None:
        return restored
    for method in ("showtraceback", "run_cell"):
        if method in vars(shell):  # an instance attribute shadows the class's method
            delattr(shell, method)
            restored.append(f"shell.{method}")
        if getattr(type(shell), method) is not _shell_state[method]:
            setattr(type(shell), method, _shell_state[method])
            restored.append(f"shell.{method}")
    if shell.custom_exceptions:
        shell.set_custom_exc((), None)
        restored.append("shell.custom_exceptions")
    for attr in ("input_transformers_post", "input_transformers_cleanup", "ast_transformers"):
        if getattr(shell, attr) != _shell_state[attr]:
            getattr(shell, attr)[:] = _shell_state[attr]
            restored.append(f"shell.{attr}")
    for name, callbacks in shell.events.callbacks.items():
        if callbacks != _shell_state["events"].get(name, []):
            callbacks[:] = _shell_state["events"].get(name, [])
            restored.append(f"shell.events[{name!r}]")
    return restored


_restored_since_last_test: list = []


def _after_every_cell(result: object = None) -> None:  # IPython's ExecutionResult, unused
    _restored_since_last_test.extend(_restore_names())


def _pop_torch_function_modes() -> list[str]:
    """A TorchFunctionMode pushed by student code sees every torch call of the test
    (it could answer True to torch.allclose): remove them all."""
    import torch

    popped = []
    while torch._C._len_torch_function_stack() > 0:
        popped.append(f"torch function mode {type(torch._C._pop_torch_function_stack()).__name__}")
    return popped


_no_subclass_overrides: list = []


def _enter_test_mode() -> None:
    """During a test, tensor subclasses' __torch_function__ is switched off: a student's
    function returning a subclass whose allclose/eq always says yes gets plain tensor
    semantics.  (nn.Parameter and friends do not use __torch_function__, so nothing
    legitimate changes.)"""
    import torch

    guard = torch._C.DisableTorchFunctionSubclass()
    guard.__enter__()
    _no_subclass_overrides.append(guard)


def _leave_test_mode() -> None:
    while _no_subclass_overrides:
        _no_subclass_overrides.pop().__exit__(None, None, None)


def before_test() -> str:
    """Restore everything; return a ';'-joined list of what had been replaced
    (including what was put back after earlier cells)."""
    _leave_test_mode()
    restored = _restored_since_last_test + _restore_hooks() + _restore_names() + _pop_torch_function_modes()
    _restored_since_last_test.clear()
    _enter_test_mode()
    return ";".join(dict.fromkeys(restored))


def after_test() -> str:
    """Names replaced while the test cell ran (the test's verdict can't be trusted):
    before_test() emptied the list, so what the post-cell hook put back since then
    was replaced by the test cell itself (i.e. by student code the test called)."""
    _leave_test_mode()
    replaced = (
        _restored_since_last_test
        + [f"{label}.{attr}" for label, _, attr, _ in _changed_names()]
        + [f"{entry[0]}.__code__" for entry in _changed_code()]
        + _pop_torch_function_modes()
    )
    _restored_since_last_test.clear()
    return ";".join(dict.fromkeys(replaced))


def _forget_test_source() -> None:
    """The text of the test cell that just ran (hidden tests) must not stay readable in
    the kernel: IPython keeps every executed cell in `linecache` for tracebacks."""
    import linecache

    for name in [n for n in linecache.cache if n.startswith("<") or "ipykernel_" in n]:
        linecache.cache.pop(name, None)
    if isinstance(getattr(linecache, "_ipython_cache", None), dict):  # IPython's own copy
        linecache._ipython_cache.clear()  # type: ignore[attr-defined]


def plain(value: object) -> dict:
    """`value` as plain JSON data for the grader's own check (autograder.verdict).

    A `str` subclass can lie in `__eq__`, `upper` or `strip`; `str.__str__` gives the
    characters it really holds.  Sets, lists and tuples of answers are converted member
    by member.  `lied` says a subclass was seen (the grader flags it)."""
    lied = type(value) not in (str, set, frozenset, list, tuple, int, float, bool, type(None))
    if isinstance(value, str):
        return {"kind": "str", "value": str.__str__(value), "lied": lied}
    if isinstance(value, (set, frozenset, list, tuple)):
        items = []
        for item in (
            set.__iter__(value)
            if isinstance(value, set)
            else frozenset.__iter__(value)
            if isinstance(value, frozenset)
            else list.__iter__(value)
            if isinstance(value, list)
            else tuple.__iter__(value)
        ):
            if not isinstance(item, str):
                return {"kind": "other", "type": type(item).__name__, "lied": lied}
            lied = lied or type(item) is not str
            items.append(str.__str__(item))
        kind = "set" if isinstance(value, (set, frozenset)) else "list"
        return {"kind": kind, "value": sorted(items) if kind == "set" else items, "lied": lied}
    return {"kind": "other", "type": type(value).__name__, "lied": lied}


def _make_entry(secret: bytes) -> Callable[..., str]:
    """The grader's only way in: `answer(nonce, what, *args)` returns JSON and an HMAC of
    it under a per-kernel secret.  A replaced guard (or `__import__`, or `json`) cannot
    forge the HMAC without digging the secret out of this closure, so a replacement shows
    up as a bad signature and the grader gives the test 0."""
    import hashlib
    import hmac
    import json

    dumps, new, sha256 = json.dumps, hmac.new, hashlib.sha256
    table: dict = {"before_test": before_test, "after_test": after_test, "plain": plain}

    def answer(nonce: str, what: str, *args: object) -> str:
        if what == "after_test":
            _forget_test_source()
        payload = dumps(table[what](*args))
        return payload + "\n" + new(secret, (nonce + payload).encode(), sha256).hexdigest()

    return answer


answer: Callable[..., str] | None = None
