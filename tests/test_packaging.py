"""The distribution installs one import package, `hyperfed`, and works without the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

from tests.conftest import REPO_ROOT

SOURCE_FOLDERS = ("hub", "adapters", "ontology", "catalog", "synth")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = WheelBuilder(str(REPO_ROOT)).build(directory=str(out), versions=["standard"])
    return Path(next(iter(built)))


def test_the_wheel_holds_only_hyperfed_and_its_dist_info(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"hyperfed", f"hyperfed-{wheel.name.split('-')[1]}.dist-info"}
    packaged = {n.split("/")[1] for n in names if n.startswith("hyperfed/")}
    assert packaged == set(SOURCE_FOLDERS)


def test_every_source_module_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in SOURCE_FOLDERS:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            assert f"hyperfed/{path.relative_to(REPO_ROOT).as_posix()}" in names, path


def test_every_module_imports_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    """Unpacked wheel + third-party packages only: no checkout on sys.path, no editable
    finder (-S skips .pth files), so a module importing a bare `hub` or `adapters` fails."""
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    modules = sorted(
        ".".join(p.relative_to(target).with_suffix("").parts).removesuffix(".__init__")
        for p in (target / "hyperfed").rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bare = sorted(n for n in sys.modules if n.split('.')[0] in "
        f"{SOURCE_FOLDERS!r})\n"
        "assert not bare, bare\n"
        "print(len(sys.modules))\n"
    )
    site_packages = sysconfig.get_paths()["purelib"]
    r = subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{target}:{site_packages}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]


def test_the_console_script_and_adapters_point_into_hyperfed(wheel: Path) -> None:
    z = zipfile.ZipFile(wheel)
    entry = next(n for n in z.namelist() if n.endswith("entry_points.txt"))
    text = z.read(entry).decode()
    assert "hyperfed = hyperfed.hub.cli:main" in text
    assert "omop = hyperfed.adapters.omop:OmopAdapter" in text
