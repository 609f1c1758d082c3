"""Chapters as live notebooks in JupyterLab (``make lab``).

jupytext opens a chapter (``book/*.md``, MyST) as a notebook. What only the book build
understands would then show as raw text: admonitions as code blocks, ``{cite}`` and
``{doc}`` as roles, ``{glue:text}`` with no value, and a ``literalinclude`` as its options
without the code. :class:`ChapterContentsManager` serves each markdown cell in a readable
form instead (a quoted box, "Vaswani et al. 2017" linked to the bibliography, a link to
the other page, the included code itself) and puts the MyST source back when the
notebook is saved, so the chapter on disk never changes by being opened.

The readable form is made by :func:`readable_markdown`, a pure function of the cell's
text and the chapter's folder.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

ADMONITIONS = (
    "admonition",
    "note",
    "tip",
    "hint",
    "important",
    "seealso",
    "warning",
    "caution",
    "attention",
    "danger",
    "error",
)
SOURCE_KEY = "normlab_myst_source"  # cell metadata: the MyST text the readable form replaced

_FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)
_ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<text>[^`]*)`")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")


def _options(body: str) -> tuple[dict[str, str], str]:
    """A directive's ``:key: value`` lines and the body that follows them."""
    options, lines = {}, body.split("\n")
    while lines and _OPTION.match(lines[0]):
        match = _OPTION.match(lines.pop(0))
        assert match is not None  # matched just above
        options[match["key"]] = match["value"].strip()
    return options, "\n".join(lines).strip("\n")


def _quote(title: str, body: str) -> str:
    lines = [f"> **{title}**" if title else ">", ">"] + [f"> {line}".rstrip() for line in body.split("\n")]
    return "\n".join(lines)


def _python_object(source: str, name: str) -> str | None:
    """The source of the class or function ``name`` (dotted for methods), decorators included."""
    tree, lines = ast.parse(source), source.split("\n")
    scope = tree.body
    node = None
    for part in name.split("."):
        node = next(
            (
                n
                for n in scope
                if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == part
            ),
            None,
        )
        if node is None:
            return None
        scope = node.body
    assert node is not None, f"empty name {name!r}"
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return "\n".join(lines[start - 1 : node.end_lineno])


def _lines(source: str, spec: str) -> str:
    """``:lines: 3-10,12`` of a file (1-based, inclusive)."""
    lines, chosen = source.split("\n"), []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        start = int(first) if first else 1
        end = int(last) if last else (start if not _ else len(lines))
        chosen += lines[start - 1 : end]
    return "\n".join(chosen)


def _literalinclude(arg: str, body: str, folder: Path) -> str:
    options, _ = _options(body)
    target = (folder / arg.strip()).resolve()
    link = f"[`{arg.strip()}`]({arg.strip()})"
    try:
        source = target.read_text()
    except OSError:
        return f"> The code of {link} is included here in the book (the file was not found)."
    code = source
    where = ""
    if "pyobject" in options:
        found = _python_object(source, options["pyobject"])
        where = f" `{options['pyobject']}`"
        if found is None:
            return f"> {options['pyobject']} from {link} is included here in the book (not found in the file)."
        code = found
    elif "lines" in options:
        code = _lines(source, options["lines"])
    language = options.get("language", "python" if target.suffix == ".py" else "")
    return f"From {link}{where}:\n\n```{language}\n{code.rstrip()}\n```"


def _directive(match: re.Match, folder: Path, bibliography: dict[str, str]) -> str:
    name, arg, body = match["name"], match["arg"].strip(), match["body"]
    if name in ADMONITIONS:
        _, text = _options(body)
        title = arg if name == "admonition" else name.capitalize() + (f": {arg}" if arg else "")
        return _quote(title, readable_markdown(text, folder, bibliography))
    if name == "literalinclude":
        return _literalinclude(arg, body, folder)
    if name.startswith("glue"):
        return f"> *The figure or table `{arg}` is computed by a code cell of this notebook: run it to see it.*"
    return match.group(0)  # code-cell, quiz, math and the rest: left as they are


def _role(match: re.Match, folder: Path, bibliography: dict[str, str]) -> str:
    name, text = match["name"], match["text"]
    if name.startswith("cite"):
        keys = [k.strip() for k in text.split(",") if k.strip()]
        names = "; ".join(bibliography.get(k, k) for k in keys)
        return f"[{names}](bibliography.md)"
    if name == "doc":
        title, target = _title_and_target(text)
        return f"[{title or Path(target).name}]({target}.md)"
    if name in ("ref", "numref", "term"):
        title, target = _title_and_target(text)
        return f"*{title or target}*"
    if name.startswith("glue"):
        key = text.split(":", 1)[0]
        return f"[`{key}`: computed by the code below]"
    return match.group(0)  # {math} and unknown roles: left as they are


def _title_and_target(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"(?P<title>.*?)\s*<(?P<target>[^>]+)>", text.strip())
    return (match["title"], match["target"]) if match else ("", text.strip())


def readable_markdown(text: str, folder: Path, bibliography: dict[str, str] | None = None) -> str:
    """``text`` (a chapter's markdown cell) with the MyST-only syntax made readable in a plain
    Markdown renderer; paths (``{doc}``, ``literalinclude``) are relative to ``folder``."""
    bibliography = bibliography if bibliography is not None else citation_labels(folder)
    parts, last = [], 0
    for match in _FENCE.finditer(text):
        parts.append(_ROLE.sub(lambda m: _role(m, folder, bibliography), text[last : match.start()]))
        parts.append(_directive(match, folder, bibliography))
        last = match.end()
    parts.append(_ROLE.sub(lambda m: _role(m, folder, bibliography), text[last:]))
    return "".join(parts)


# --------------------------------------------------------------------------- citations


def _surname(person: str) -> str:
    person = re.sub(r"[{}\\]", "", person).strip()
    return person.split(",")[0].strip() if "," in person else person.split()[-1]


def cited_names(surnames: list[str]) -> str:
    """'Vaswani' / 'Kim and Lee' / 'Ba et al.': the authors as the text cites them (also the
    built bibliography's labels, normlab.book.reader)."""
    if len(surnames) <= 2:
        return " and ".join(surnames)
    return f"{surnames[0]} et al."


def _label(authors: str, year: str) -> str:
    names = [_surname(p) for p in re.split(r"\s+and\s+", authors) if p.strip()]
    return f"{cited_names(names) or '?'} {year}".strip()


@lru_cache(maxsize=8)
def _labels_in(folder: str) -> dict[str, str]:
    labels = {}
    for bib in sorted(Path(folder).glob("*.bib")):
        text = bib.read_text()
        for entry in re.finditer(r"@\w+\s*\{\s*(?P<key>[^,\s]+)\s*,(?P<fields>.*?)\n\}", text, re.S):
            fields = dict(re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", entry["fields"]))
            authors = fields.get("author") or fields.get("editor") or fields.get("organization", "")
            labels[entry["key"]] = _label(authors, fields.get("year", ""))
    return labels


def citation_labels(folder: Path) -> dict[str, str]:
    """{bibtex key: "Vaswani et al. 2017"} for every ``*.bib`` file in ``folder``."""
    return _labels_in(str(Path(folder).resolve()))


# --------------------------------------------------------------------------- notebooks


def is_chapter(path: str) -> bool:
    """A Markdown notebook (a chapter of the book, MyST) rather than an .ipynb."""
    return Path(path).suffix in (".md", ".myst")


def make_readable(notebook: NotebookNode, folder: Path) -> None:
    """Replace each markdown cell of a chapter by its readable form, keeping the MyST source
    in the cell's metadata so that :func:`restore_myst` can put it back."""
    bibliography = citation_labels(folder)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        readable = readable_markdown(source, folder, bibliography)
        if readable != source:
            cell.setdefault("metadata", {})[SOURCE_KEY] = source
            cell["source"] = readable


def restore_myst(notebook: NotebookNode, folder: Path) -> None:
    """Undo :func:`make_readable` before a save: a cell the learner left alone gets its MyST
    source back; a cell they edited keeps their text."""
    bibliography = citation_labels(folder)
    for cell in notebook.get("cells", []):
        original = cell.get("metadata", {}).pop(SOURCE_KEY, None)
        if original is None:
            continue
        current = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if current == readable_markdown(original, folder, bibliography):
            cell["source"] = original


def _contents_manager_base() -> type:
    import jupytext

    return getattr(jupytext, "AsyncTextFileContentsManager", None) or jupytext.TextFileContentsManager


def _folder(manager: Any, path: str) -> Path:
    return (Path(manager.root_dir) / path.strip("/")).parent


class _ReadableChapters:
    """Mixed into jupytext's contents manager: chapters are served readable, saved as MyST."""

    def _readable(self, model: dict[str, Any], path: str) -> dict[str, Any]:
        if model and model.get("type") == "notebook" and model.get("content") and is_chapter(path):
            make_readable(model["content"], _folder(self, path))
        return model

    def _myst(self, model: dict[str, Any], path: str) -> dict[str, Any]:
        if model.get("type") == "notebook" and model.get("content"):
            restore_myst(model["content"], _folder(self, path))
        return model


def _build_manager() -> type:
    base: Any = _contents_manager_base()  # jupytext's class, whichever jupyter_server has
    import inspect

    if inspect.iscoroutinefunction(base.get):

        class ChapterContentsManager(_ReadableChapters, base):
            async def get(
                self, path: str, content: bool = True, type: str | None = None, format: str | None = None, **kwargs: Any
            ) -> dict[str, Any]:
                return self._readable(
                    await super().get(path, content=content, type=type, format=format, **kwargs), path
                )

            async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
                return await super().save(self._myst(model, path), path)
    else:

        class ChapterContentsManager(_ReadableChapters, base):  # type: ignore[no-redef]
            def get(
                self, path: str, content: bool = True, type: str | None = None, format: str | None = None, **kwargs: Any
            ) -> dict[str, Any]:
                return self._readable(super().get(path, content=content, type=type, format=format, **kwargs), path)

            def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
                return super().save(self._myst(model, path), path)

    ChapterContentsManager.__doc__ = (
        "jupytext's contents manager, serving chapters readable (normlab.book.contents.make_readable) "
        "and saving them as MyST."
    )
    return ChapterContentsManager


def __getattr__(name: str) -> type:
    # Built on first use: importing normlab must not import jupytext and jupyter_server.
    if name == "ChapterContentsManager":
        manager = _build_manager()
        globals()[name] = manager
        return manager
    raise AttributeError(f"module 'normlab.book.contents' has no attribute {name!r}")
