"""Fixtures of the DICOM adapter tests: pydicom's own test files, a throwaway Orthanc."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from tests.orthanc import OrthancNotFound, OrthancServer, find_orthanc

PYDICOM_FILES = Path(pydicom.__file__).resolve().parent / "data" / "test_files"
SECRET = b"0123456789abcdef0123456789abcdef-test-secret"


def read(path: Path) -> pydicom.Dataset | None:
    """A pydicom read of a file as a user would do it (None when it is not DICOM)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception:
            return None


def dicomdir_tree() -> Path:
    return PYDICOM_FILES / "dicomdirtests"


@pytest.fixture()
def mr_ct_tree(tmp_path: Path) -> Path:
    """A copy of pydicom's dicomdirtests patients (CT and MR series, no DICOMDIR)."""
    root = tmp_path / "site"
    for patient in ("77654033", "98892001", "98892003"):
        shutil.copytree(dicomdir_tree() / patient, root / patient)
    shutil.copy(PYDICOM_FILES / "CT_small.dcm", root / "CT_small.dcm")
    shutil.copy(PYDICOM_FILES / "MR_small.dcm", root / "MR_small.dcm")
    return root


def upload_files() -> list[Path]:
    """The files the Orthanc fixture uploads: CT_small, MR_small and the dicomdirtests series."""
    files = [PYDICOM_FILES / "CT_small.dcm", PYDICOM_FILES / "MR_small.dcm"]
    for patient in ("77654033", "98892001", "98892003"):
        files += sorted(p for p in (dicomdir_tree() / patient).rglob("*") if p.is_file())
    return files


@pytest.fixture(scope="session")
def orthanc() -> Iterator[OrthancServer]:
    """A real Orthanc with DICOMweb on loopback, holding `upload_files()`.

    Missing Orthanc is a failure, not a skip (./hf test installs it); opt out deliberately
    with HYPERFED_SKIP_ORTHANC=1.
    """
    if os.environ.get("HYPERFED_SKIP_ORTHANC") == "1":
        pytest.skip("Orthanc tests skipped because HYPERFED_SKIP_ORTHANC=1")
    try:
        find_orthanc()
    except OrthancNotFound as exc:
        pytest.fail(f"{exc}\n(set HYPERFED_SKIP_ORTHANC=1 to skip deliberately)", pytrace=False)
    with OrthancServer() as server:
        for path in upload_files():
            server.upload(path)
        yield server
