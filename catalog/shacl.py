"""SHACL validation with pyshacl: the official DCAT-AP 3.0.1 shapes plus the package's
HealthDCAT-AP shapes (``catalog/shapes/healthdcat-ap.ttl``).

From a DCAT-AP release folder (``SEMICeu/DCAT-AP/releases/3.0.1``) the validator loads
what the EU ITB validator's "DCAT-AP 3.0.1 Full" set loads and pyshacl can run:
``html/shacl/shapes.ttl`` (mandatory properties, node kinds, datatypes),
``html/shacl/range.ttl`` (class ranges), ``html/shacl/deprecateduris.ttl`` and, as
warnings, ``html/shacl/shapes_recommended.ttl``. ``shacl/ranges.ttl`` is not loaded: it
is not well-formed SHACL for pyshacl. ``owl:imports`` are not followed (they point to
remote vocabularies). Validation is CPU-bound pure Python: call `validate` from a worker
thread (`asyncio.to_thread`), never on the event loop.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

import pyshacl
from rdflib import Graph as RdfGraph
from rdflib import Literal as RdfLiteral
from rdflib import Namespace as RdfNamespace
from rdflib.term import Node

from hyperfed.catalog.errors import Problem, SettingsInvalid
from hyperfed.catalog.settings import HEALTH_NAMESPACES

__all__ = ["DCAT_AP_FILES", "DCAT_AP_WARNING_FILES", "Validator", "load_package_shapes"]

SH = RdfNamespace("http://www.w3.org/ns/shacl#")
DCAT_AP_FILES = ("html/shacl/shapes.ttl", "html/shacl/range.ttl", "html/shacl/deprecateduris.ttl")
DCAT_AP_WARNING_FILES = ("html/shacl/shapes_recommended.ttl",)


def load_package_shapes(health_namespace: str) -> str:
    """The package's HealthDCAT-AP shapes (Turtle), in the configured namespace."""
    text = resources.files("hyperfed.catalog").joinpath("shapes/healthdcat-ap.ttl").read_text()
    if health_namespace != HEALTH_NAMESPACES[0]:
        text = text.replace(HEALTH_NAMESPACES[0], health_namespace)
    return text


def _label(graph: RdfGraph, node: Node | None) -> str:
    if node is None:
        return ""
    if isinstance(node, RdfLiteral):
        return str(node)
    if (node, SH.inversePath, None) in graph:
        return "^" + _label(graph, graph.value(node, SH.inversePath))
    return str(node)


class Validator:
    """Loads the shapes once; `validate` is thread-safe (one validation at a time)."""

    def __init__(
        self,
        health_namespace: str,
        dcat_ap_release: Path | None = None,
        *,
        warnings: bool = True,
    ) -> None:
        shapes = RdfGraph()
        shapes.parse(data=load_package_shapes(health_namespace), format="turtle")
        self.sources = ["hyperfed: shapes/healthdcat-ap.ttl"]
        if dcat_ap_release is not None:
            files = [*DCAT_AP_FILES, *(DCAT_AP_WARNING_FILES if warnings else ())]
            for name in files:
                path = Path(dcat_ap_release) / name
                if not path.is_file():
                    raise SettingsInvalid(
                        f"dcat_ap_shapes: {dcat_ap_release} is not a DCAT-AP 3.0.1 release "
                        f"folder ({name} is missing)"
                    )
                shapes.parse(path, format="turtle")
                self.sources.append(f"DCAT-AP 3.0.1: {name}")
        self.shapes = shapes
        self.official = dcat_ap_release is not None
        self._lock = threading.Lock()

    def validate(self, ntriples: bytes) -> list[Problem]:
        """Every SHACL result (violations and warnings) for an N-Triples data graph."""
        data = RdfGraph()
        data.parse(data=ntriples.decode("utf-8"), format="nt")
        with self._lock:
            _conforms, report, _text = pyshacl.validate(
                data,
                shacl_graph=self.shapes,
                inference="none",
                advanced=True,
                allow_warnings=True,
                do_owl_imports=False,
            )
        assert isinstance(report, RdfGraph)
        problems = []
        for result in report.subjects(SH.resultSeverity, None):
            severity = str(report.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
            problems.append(
                Problem(
                    focus=_label(report, report.value(result, SH.focusNode)),
                    path=_label(report, report.value(result, SH.resultPath)),
                    message=str(report.value(result, SH.resultMessage) or "constraint failed"),
                    severity=severity,
                    shape=_label(report, report.value(result, SH.sourceShape)),
                )
            )
        problems.sort(key=lambda p: (p.severity != "Violation", p.focus, p.path, p.message))
        return problems
