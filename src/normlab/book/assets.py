"""Fetch the book's web assets from the npm registry, so the built book loads nothing
from the internet.

    python -m normlab.book.assets [--root DIR]

Each package is pinned and unpacked under ``_static/vendor/<name>/`` of the book root
(git-ignored). A package whose stamp file names the pinned version is skipped, so a
second run does nothing and needs no network.

Why these three:
- ``requirejs`` and ``@jupyter-widgets/html-manager``: the widget manager that renders
  the widget state myst-nb saves into the page (``nb_ipywidgets_js`` in ``_config.yml``).
  html-manager 1.x speaks widget protocol 2.x, the one ipywidgets 8 writes; its fonts
  and CSS load relative to ``embed-amd.js``, so the whole ``dist/`` is kept.
- ``mathjax@3``: Sphinx's ``mathjax_path`` points at ``es5/tex-mml-chtml.js``, which
  loads its components and fonts relative to itself.

And one used only by the tests, kept out of the built book (``.cache/test-vendor/``):
- ``axe-core``: the accessibility checker the browser tests inject into every page.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NpmAsset:
    name: str  # folder under _static/vendor/
    spec: str  # npm package@exact-version
    keep: str  # path inside the package to keep: a file or a folder ending in "/"
    for_tests: bool = False  # only the tests load it: not under _static/, not in the book

    @property
    def tarball_prefix(self) -> str:
        return "package/" + self.keep


ASSETS = (
    NpmAsset("requirejs", "requirejs@2.3.8", "require.js"),
    NpmAsset("html-manager", "@jupyter-widgets/html-manager@1.0.15", "dist/"),
    NpmAsset("mathjax", "mathjax@3.2.2", "es5/"),
    NpmAsset("axe-core", "axe-core@4.11.1", "axe.min.js", for_tests=True),
)

VENDOR_DIR = Path("_static") / "vendor"
TEST_VENDOR_DIR = Path(".cache") / "test-vendor"
NPM_CACHE_DIR = Path(".cache") / "npm"
STAMP = ".npm-spec"


def find_book_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding the book's `_config.yml`."""
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file():
            return folder
    raise SystemExit(f"normlab.book.assets: no _config.yml in {start} or above; run it from the book root")


def is_present(asset: NpmAsset, vendor: Path) -> bool:
    stamp = vendor / asset.name / STAMP
    return stamp.is_file() and stamp.read_text().strip() == asset.spec


def npm_pack(spec: str, into: Path) -> Path:
    """Download the package tarball with the ordinary npm client; return its path."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(
            ["npm", "pack", spec, "--pack-destination", str(into), "--silent"],
            check=True,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        raise SystemExit("normlab.book.assets: `npm` not found; install Node.js (it ships npm)") from None
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"normlab.book.assets: `npm pack {spec}` failed:\n{err.stderr}") from None
    tarball_name = result.stdout.strip().splitlines()[-1]
    return into / tarball_name


def unpack(asset: NpmAsset, tarball: Path, dest: Path) -> int:
    """Extract the kept part of the tarball into `dest`; return the number of files."""
    prefix = asset.tarball_prefix
    count = 0
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(prefix):
                continue
            relative = member.name[len("package/") :]
            target = dest / relative
            if dest.resolve() not in target.resolve().parents:
                raise SystemExit(f"normlab.book.assets: unsafe path {member.name!r} in {tarball.name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file (checked above)
            with source as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            count += 1
    if count == 0:
        raise SystemExit(f"normlab.book.assets: {asset.spec} has no {asset.keep!r}; wrong version pinned?")
    return count


def install(asset: NpmAsset, vendor: Path, npm_cache: Path) -> None:
    tarball = npm_pack(asset.spec, npm_cache)
    # Unpack beside the target and swap in whole, so an interrupted run never leaves a
    # half-filled folder that a later run would mistake for a finished one.
    vendor.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=vendor, prefix=f".{asset.name}-") as tmp:
        staging = Path(tmp) / asset.name
        count = unpack(asset, tarball, staging)
        (staging / STAMP).write_text(asset.spec + "\n")
        final = vendor / asset.name
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    print(f"normlab.book.assets: {asset.spec}: {count} files -> {final}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="book root (default: found from cwd)")
    args = parser.parse_args(argv)
    root = args.root.resolve() if args.root else find_book_root(Path.cwd().resolve())
    for asset in ASSETS:
        vendor = root / (TEST_VENDOR_DIR if asset.for_tests else VENDOR_DIR)
        if is_present(asset, vendor):
            print(f"normlab.book.assets: {asset.spec} already in {vendor / asset.name}")
            continue
        install(asset, vendor, root / NPM_CACHE_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
