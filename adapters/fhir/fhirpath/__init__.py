"""FHIRPath for SQL-on-FHIR views: `parse` (text -> AST), `Compiler` (AST -> DuckDB SQL as
sqlglot trees), `schema` (R4 element cardinalities for one-call JSONPaths). Errors are those
of `hyperfed.adapters.fhir` (FhirPathError and subclasses)."""

from hyperfed.adapters.fhir.fhirpath.compile import Compiler, Scope
from hyperfed.adapters.fhir.fhirpath.parse import Node, parse
from hyperfed.adapters.fhir.fhirpath.sql import Val

__all__ = ["Compiler", "Node", "Scope", "Val", "parse"]
