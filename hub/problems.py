"""The hub's errors as HTTP problem+json: the one place they are mapped (bodies are built
by `hyperfed.adapters.problems`, which the node uses too).

    ProblemError (BadRequest 400, NotFound 404, Invalid 422)   as they say
    AuthProblem       401 + WWW-Authenticate, 403, 429 + Retry-After (hyperfed.hub.auth:
                      installed by `install_auth_problems`, with their headers)
    registry errors   404, 403, 409 (a taken node id), 422, 502 (the handshake failed):
                      mapped by hyperfed.hub.routes.registry
    QueryRejected     422 "Invalid query", `errors` lists each JSON path, message, value
    UnknownConcept    404 (concept look-up) with close matches in `suggestions`
    OntologyError     by its `status`: SparqlRejected / SparqlTooLarge 400 (refused,
                      malformed, more rows than the limit), SparqlTimeout 503 with
                      Retry-After, SparqlFailed 500 (the worker failed); other ontology
                      errors (an unknown category ...) 400
    catalogue errors  the catalogue's routes answer their own problems (by `status`:
                      hyperfed.catalog.router.problem_response), in the same form
    anything else     500, named by its type only
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hyperfed.adapters.problems import install_problem_handlers, problem
from hyperfed.hub.prepare import QueryRejected
from hyperfed.ontology import OntologyError, UnknownConcept
from hyperfed.ontology.errors import SparqlFailed, SparqlRejected, SparqlTimeout, SparqlTooLarge

__all__ = ["SPARQL_TITLES", "install_hub_problems"]

SPARQL_TITLES: dict[type[OntologyError], str] = {
    SparqlRejected: "SPARQL query refused",
    SparqlTooLarge: "SPARQL result too large",
    SparqlTimeout: "SPARQL query timed out",
    SparqlFailed: "SPARQL evaluation failed",
}


def install_hub_problems(app: FastAPI) -> None:
    install_problem_handlers(app, "hub")

    @app.exception_handler(QueryRejected)
    async def _rejected(_: Request, exc: QueryRejected) -> JSONResponse:
        first = exc.problems[0]
        return problem(
            422, "Invalid query", f"{first['path']}: {first['message']}", errors=exc.problems
        )

    @app.exception_handler(UnknownConcept)
    async def _unknown(_: Request, exc: UnknownConcept) -> JSONResponse:
        return problem(
            404, "Unknown concept", str(exc), value=exc.ref, suggestions=list(exc.suggestions)
        )

    @app.exception_handler(OntologyError)
    async def _ontology(_: Request, exc: OntologyError) -> JSONResponse:
        status = int(getattr(exc, "status", 400))
        title = SPARQL_TITLES.get(type(exc), "Ontology request failed")
        headers = {"Retry-After": "5"} if status == 503 else None
        return problem(status, title, str(exc), headers=headers)
