"""Build hook: one `hyperfed` import namespace over the project's top-level source folders.

The wheel maps `hub/` to `hyperfed/hub/` (and so on) with hatchling's `sources` option. An
editable install cannot rewrite paths that way, so for it this hook adds a small import
finder (`_hyperfed_editable.py`, started by a `.pth` file) that finds `hyperfed.<folder>` in
the checkout. It also links `.hyperfed/typecheck/hyperfed/<folder>` to each folder so mypy,
which does not run import hooks, sees the same module names.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_FINDER = '''"""Editable install of Hyperfed: `hyperfed.<folder>` is the checkout's <folder>/."""

import importlib.machinery
import importlib.util
import sys

ROOT = {root!r}
FOLDERS = {folders!r}


class HyperfedEditableFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname == "hyperfed":
            spec = importlib.machinery.ModuleSpec("hyperfed", None, is_package=True)
            spec.submodule_search_locations = []
            return spec
        head, _, rest = fullname.partition(".")
        if head != "hyperfed" or rest not in FOLDERS:
            return None
        folder = ROOT + "/" + rest
        return importlib.util.spec_from_file_location(
            fullname, folder + "/__init__.py", submodule_search_locations=[folder]
        )


if not any(getattr(f, "__name__", "") == "HyperfedEditableFinder" for f in sys.meta_path):
    sys.meta_path.append(HyperfedEditableFinder)
'''


def folders(config: dict[str, Any]) -> dict[str, str]:
    """Source folder -> its path under the distribution (`hub` -> `hyperfed/hub`)."""
    sources = config.get("sources", {})
    return {src: dst for src, dst in sources.items() if dst.startswith("hyperfed/")}


def link_for_typecheck(root: Path, mapping: dict[str, str]) -> None:
    """`.hyperfed/typecheck/hyperfed/<folder>` -> `<root>/<folder>`, for mypy."""
    base = root / ".hyperfed" / "typecheck" / "hyperfed"
    base.mkdir(parents=True, exist_ok=True)
    for src, dst in mapping.items():
        link = base / dst.removeprefix("hyperfed/")
        target = os.path.relpath(root / src, base)
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "editable":
            return
        root = Path(self.root).resolve()
        mapping = folders(self.build_config.target_config)
        names = tuple(sorted(dst.removeprefix("hyperfed/") for dst in mapping.values()))
        staging = Path(tempfile.mkdtemp(prefix="hyperfed-editable-"))
        finder = staging / "_hyperfed_editable.py"
        finder.write_text(_FINDER.format(root=str(root), folders=names))
        pth = staging / "_hyperfed_editable.pth"
        pth.write_text("import _hyperfed_editable\n")
        build_data["force_include"][str(finder)] = "_hyperfed_editable.py"
        build_data["force_include"][str(pth)] = "_hyperfed_editable.pth"
        link_for_typecheck(root, mapping)


if __name__ == "__main__":  # `python hatch_build.py`: (re)make the links mypy reads
    import tomllib

    here = Path(__file__).resolve().parent
    wheel = tomllib.loads((here / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    link_for_typecheck(here, folders(wheel["targets"]["wheel"]))
