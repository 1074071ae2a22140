"""Hyperfed's deterministic synthetic population and its OMOP CDM writers.

One population (persons, observation periods, visits, conditions, drugs, measurements,
procedures, observations, deaths) is generated vectorised in DuckDB from a `SynthSpec`; the
same spec always gives the same rows. Writers store it as OMOP CDM 5.4 or 5.3 tables, with a
small vocabulary (CONCEPT, CONCEPT_ANCESTOR, CONCEPT_RELATIONSHIP, VOCABULARY, DOMAIN) and
CDM_SOURCE, in DuckDB or PostgreSQL. Later writers (FHIR, SDTM, DICOM) reuse the population.

    from hyperfed.synth import SynthSpec, write_omop_duckdb
    summary = write_omop_duckdb(SynthSpec(persons=20_000, seed=1), "site_a.duckdb")

Errors::

    SynthError
    ├── SynthSpecError (also ValueError)   a spec field is out of range
    └── SynthWriteError                    the database refused a table (names target + table)

Modules: `spec` (SynthSpec, Summary), `catalogue` (clinical items and disease parameters),
`vocabulary` (OMOP concepts, hierarchy, mappings), `population` and `events` (the population as
SQL), `omop_schema` (our compact DDL), `omop` (population -> OMOP rows), `writers` (DuckDB,
PostgreSQL), `sdtm` (the population as SDTM domains), `demo` (the demo sites), `cli`
(`hyperfed generate ...`).
"""

from hyperfed.synth.demo import DEMO_SDTM_SITES, DEMO_SITES, write_demo_sites
from hyperfed.synth.errors import SynthError, SynthSpecError, SynthWriteError
from hyperfed.synth.spec import MAX_PERSONS, CdmVersion, Summary, SynthSpec
from hyperfed.synth.writers import ALL_TABLES, write_omop_duckdb, write_omop_postgres

__all__ = [
    "ALL_TABLES",
    "DEMO_SDTM_SITES",
    "DEMO_SITES",
    "MAX_PERSONS",
    "CdmVersion",
    "Summary",
    "SynthError",
    "SynthSpec",
    "SynthSpecError",
    "SynthWriteError",
    "write_demo_sites",
    "write_omop_duckdb",
    "write_omop_postgres",
]
