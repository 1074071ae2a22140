"""The FHIR REST backend: a query compiled into FHIR search requests against a FHIR R4 server
(``--source https://...``), patient-id sets combined where search alone cannot say it.

Modules: `plan` (the search tree and `RestQuery`, whose `text()` lists the requests),
`compiler` (HQL -> searches, pure), `client` (HTTP: CapabilityStatement, `_summary=count`,
paging), `run` (evaluation), `adapter` (`FhirRestAdapter`, what `FhirAdapter.from_source`
returns for a URL).

Errors: `RestError` (hyperfed.adapters.fhir.errors; also the kit's SourceError) when the
server refuses a search or cannot be reached; `QueryTimeout` when the deadline passes.
"""

from hyperfed.adapters.fhir.rest.adapter import FhirRestAdapter
from hyperfed.adapters.fhir.rest.client import FhirClient
from hyperfed.adapters.fhir.rest.compiler import ServerSearch, compile_rest
from hyperfed.adapters.fhir.rest.plan import REST_TYPES, RestQuery, RestType

__all__ = [
    "REST_TYPES",
    "FhirClient",
    "FhirRestAdapter",
    "RestQuery",
    "RestType",
    "ServerSearch",
    "compile_rest",
]
