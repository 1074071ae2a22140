"""Define-XML (2.0 and 2.1) metadata: each dataset's domain and class, its variables' types,
labels and codelists. Parsed with the standard library; nothing else of the file is used.

`parse_define(path)` returns a `Define`, or raises `DefineError` naming the file and the reason
(not well-formed XML, not an ODM document). Unknown or missing attributes are tolerated: the
define.xml only adds knowledge, it never replaces what the datasets themselves show.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Codelist",
    "Define",
    "DefineDataset",
    "DefineError",
    "DefineVariable",
    "parse_define",
]

_ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
_XLINK = "{http://www.w3.org/1999/xlink}"
_NUMERIC_TYPES = frozenset({"integer", "float", "double", "decimal"})


class DefineError(ValueError):
    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


@dataclass(frozen=True)
class Codelist:
    oid: str
    name: str
    values: frozenset[str]
    external: str | None = None  # e.g. "MEDDRA": an external dictionary, values not listed


@dataclass(frozen=True)
class DefineVariable:
    name: str
    data_type: str
    label: str = ""
    codelist: str | None = None
    mandatory: bool = False

    @property
    def numeric(self) -> bool:
        return self.data_type in _NUMERIC_TYPES


@dataclass(frozen=True)
class DefineDataset:
    name: str
    domain: str | None
    domain_class: str | None
    label: str = ""
    file: str | None = None
    variables: dict[str, DefineVariable] = field(default_factory=dict)


@dataclass(frozen=True)
class Define:
    file: str
    standard: str | None
    datasets: dict[str, DefineDataset]
    codelists: dict[str, Codelist]

    def dataset(self, name: str) -> DefineDataset | None:
        return self.datasets.get(name.upper())

    def codelist_of(self, dataset: str, variable: str) -> Codelist | None:
        ds = self.dataset(dataset)
        var = ds.variables.get(variable) if ds else None
        return self.codelists.get(var.codelist) if var and var.codelist else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(el: ET.Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (def:Class, Class ...)."""
    for key, value in el.attrib.items():
        if _local(key) == name:
            return value
    return None


def _text(el: ET.Element | None) -> str:
    if el is None:
        return ""
    for t in el.iter():
        if _local(t.tag) == "TranslatedText" and t.text:
            return t.text.strip()
    return ""


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _codelists(mdv: ET.Element) -> dict[str, Codelist]:
    out: dict[str, Codelist] = {}
    for cl in _children(mdv, "CodeList"):
        oid = cl.get("OID") or ""
        items = _children(cl, "CodeListItem") + _children(cl, "EnumeratedItem")
        external = _child(cl, "ExternalCodeList")
        out[oid] = Codelist(
            oid=oid,
            name=cl.get("Name") or oid,
            values=frozenset(i.get("CodedValue") or "" for i in items),
            external=(external.get("Dictionary") or "external") if external is not None else None,
        )
    return out


def _items(mdv: ET.Element) -> dict[str, DefineVariable]:
    out: dict[str, DefineVariable] = {}
    for it in _children(mdv, "ItemDef"):
        ref = _child(it, "CodeListRef")
        out[it.get("OID") or ""] = DefineVariable(
            name=(it.get("Name") or "").upper(),
            data_type=(it.get("DataType") or "text").lower(),
            label=_text(_child(it, "Description")),
            codelist=ref.get("CodeListOID") if ref is not None else None,
        )
    return out


def _leaves(mdv: ET.Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for group in _children(mdv, "ItemGroupDef"):
        for leaf in _children(group, "leaf"):
            href = leaf.get(_XLINK + "href")
            if leaf.get("ID") and href:
                out[leaf.get("ID") or ""] = href
    return out


def parse_define(path: Path) -> Define:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DefineError(path.name, f"not well-formed XML ({exc})") from exc
    except OSError as exc:
        raise DefineError(path.name, f"cannot be read ({exc.strerror or exc})") from exc
    if _local(root.tag) != "ODM":
        raise DefineError(path.name, f"not a Define-XML document (root element {root.tag!r})")
    mdv = next((e for e in root.iter() if _local(e.tag) == "MetaDataVersion"), None)
    if mdv is None:
        raise DefineError(path.name, "no MetaDataVersion element")
    codelists, items, leaves = _codelists(mdv), _items(mdv), _leaves(mdv)
    datasets: dict[str, DefineDataset] = {}
    for group in _children(mdv, "ItemGroupDef"):
        name = (group.get("Name") or group.get("SASDatasetName") or "").upper()
        if not name:
            continue
        cls = _attr(group, "Class")
        if cls is None:
            cls_el = _child(group, "Class")  # Define-XML 2.1: <def:Class Name="FINDINGS"/>
            cls = cls_el.get("Name") if cls_el is not None else None
        variables: dict[str, DefineVariable] = {}
        for ref in _children(group, "ItemRef"):
            item = items.get(ref.get("ItemOID") or "")
            if item is None or not item.name:
                continue
            variables[item.name] = DefineVariable(
                name=item.name,
                data_type=item.data_type,
                label=item.label,
                codelist=item.codelist,
                mandatory=(ref.get("Mandatory") or "").lower() == "yes",
            )
        domain = group.get("Domain")
        datasets[name] = DefineDataset(
            name=name,
            domain=domain.upper() if domain else None,
            domain_class=cls.upper() if cls else None,
            label=_text(_child(group, "Description")),
            file=leaves.get(_attr(group, "ArchiveLocationID") or ""),
            variables=variables,
        )
    standard = _attr(mdv, "StandardName")
    version = _attr(mdv, "StandardVersion")
    label = " ".join(x for x in (standard, version) if x) or None
    return Define(path.name, label, datasets, codelists)
