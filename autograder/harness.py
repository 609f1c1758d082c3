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
import builtins
import sys

PROTECTED_MODULES = (
    "builtins", "torch", "torch.testing", "torch.nn", "torch.nn.functional", "math",
    "numpy", "numpy.testing", "normlab", "normlab.checks", "unittest",
)
# IPython itself rebinds these builtins in every kernel; they are not tampering.
IPYTHON_BUILTINS = {"exit", "quit", "get_ipython", "display", "_", "__", "___", "help", "input",
                    "copyright", "credits", "license"}
PROTECTED_CLASSES = (("torch", "Tensor"), ("torch.nn", "Module"))
_SYS_HOOKS = ("excepthook", "displayhook", "breakpointhook", "stdout", "stderr")

_snapshot = {}   # "module.name" -> (container, {attr: value})
_modules = {}    # module name -> module object
_sys_hooks = {}
_shell_state = {}


def _is_code(value):
    """Functions, classes and modules are protected; plain data (e.g. the assignment name
    `checks.setup()` stores) is module state that notebooks legitimately change."""
    return callable(value) or isinstance(value, type(sys))


def take_snapshot():
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


def attach_shell(shell):
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
    sys.modules["autograder.harness"] = sys.modules[__name__]


def _changed_names():
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


def _restore_names():
    restored = []
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


def _restore_hooks():
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


_restored_since_last_test = []


def _after_every_cell(result=None):
    _restored_since_last_test.extend(_restore_names())


def _pop_torch_function_modes():
    """A TorchFunctionMode pushed by student code sees every torch call of the test
    (it could answer True to torch.allclose): remove them all."""
    import torch
    popped = []
    while torch._C._len_torch_function_stack() > 0:
        popped.append(f"torch function mode {type(torch._C._pop_torch_function_stack()).__name__}")
    return popped


_no_subclass_overrides = []


def _enter_test_mode():
    """During a test, tensor subclasses' __torch_function__ is switched off: a student's
    function returning a subclass whose allclose/eq always says yes gets plain tensor
    semantics.  (nn.Parameter and friends do not use __torch_function__, so nothing
    legitimate changes.)"""
    import torch
    guard = torch._C.DisableTorchFunctionSubclass()
    guard.__enter__()
    _no_subclass_overrides.append(guard)


def _leave_test_mode():
    while _no_subclass_overrides:
        _no_subclass_overrides.pop().__exit__(None, None, None)


def before_test():
    """Restore everything; return a ';'-joined list of what had been replaced
    (including what was put back after earlier cells)."""
    _leave_test_mode()
    restored = _restored_since_last_test + _restore_hooks() + _restore_names() + _pop_torch_function_modes()
    _restored_since_last_test.clear()
    _enter_test_mode()
    return ";".join(dict.fromkeys(restored))


def after_test():
    """Names replaced while the test cell ran (the test's verdict can't be trusted):
    before_test() emptied the list, so what the post-cell hook put back since then
    was replaced by the test cell itself (i.e. by student code the test called)."""
    _leave_test_mode()
    replaced = (_restored_since_last_test + [f"{label}.{attr}" for label, _, attr, _ in _changed_names()]
                + _pop_torch_function_modes())
    _restored_since_last_test.clear()
    return ";".join(dict.fromkeys(replaced))
