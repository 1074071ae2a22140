"""Fixtures: the CDISC pilot study from ../shared (XPT + define.xml, CSV, MB from
pharmaversesdtm), loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperfed.adapters.sdtm.loader import Study, load_folder


@pytest.fixture(scope="session")
def pilot(shared_dir: Path) -> Path:
    folder = shared_dir / "data" / "sdtm" / "cdiscpilot01"
    if not folder.is_dir():
        pytest.skip(f"CDISC pilot study {folder} is absent")
    return folder


@pytest.fixture(scope="session")
def pilot_xpt_mb(pilot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The XPT folder (without the six large QS files) plus pharmaversesdtm's MB, as symbolic
    links (nothing is copied)."""
    folder = tmp_path_factory.mktemp("pilot_xpt")
    for f in (pilot / "xpt").iterdir():
        if not f.name.startswith("qs"):
            (folder / f.name).symlink_to(f)
    (folder / "mb.csv").symlink_to(pilot / "pharmaversesdtm_mb_ms" / "mb.csv")
    return folder


@pytest.fixture(scope="session")
def study_xpt(pilot_xpt_mb: Path) -> Iterator[Study]:
    study = load_folder(pilot_xpt_mb)
    yield study
    study.close()


@pytest.fixture(scope="session")
def study_csv(pilot: Path) -> Iterator[Study]:
    study = load_folder(pilot / "csv")
    yield study
    study.close()
