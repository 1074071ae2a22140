"""What the SDTM standard says, as plain data: domains, their classes, required variables.

Source: the CDISC SDTM Implementation Guide v3.3 (final, 2018-11-20), the domain specification
tables of sections 5 and 6 (Special-Purpose, Interventions, Events, Findings) and 8 (SUPPQUAL,
RELREC), column "Core" = "Req". The CDISC Library API holds the same tables in machine-readable
form but only for members; no maintained package on PyPI ships SDTMIG 3.3 metadata (pointblank
1.1 ships hand-made 3.4 templates for eight domains; they agree with the table below except
where 3.3 differs from 3.4). Transcribed by hand: `REQUIRED` lists only "Req" variables (never
"Exp" or "Perm"), with `--` standing for the domain prefix.

Note on DM: in SDTMIG 3.3 ARMCD, ARM, ACTARMCD and ACTARM are "Exp" (they became Expected when
ARMNRS was added), so they are not required here.
"""

from __future__ import annotations

import re
from typing import Final, Literal

__all__ = [
    "DATE_SUFFIX",
    "DOMAIN_CLASS",
    "EVENT_VARIABLES",
    "FINDING_VARIABLES",
    "INTERVENTION_VARIABLES",
    "KNOWN_DOMAINS",
    "NUMERIC_NAMES",
    "NUMERIC_SUFFIXES",
    "REQUIRED",
    "SUBJECT_FREE",
    "SUPP_REQUIRED",
    "DomainClass",
    "class_from_columns",
    "is_numeric_variable",
    "required_variables",
]

DomainClass = Literal[
    "SPECIAL PURPOSE", "INTERVENTIONS", "EVENTS", "FINDINGS", "TRIAL DESIGN", "RELATIONSHIP"
]

_CLASSES: dict[DomainClass, tuple[str, ...]] = {
    "SPECIAL PURPOSE": ("DM", "CO", "SE", "SV"),
    "INTERVENTIONS": ("AG", "CM", "EC", "EX", "ML", "PR", "SU"),
    "EVENTS": ("AE", "CE", "DS", "DV", "HO", "MH"),
    "FINDINGS": (
        "CV", "DA", "DD", "EG", "FA", "FT", "IE", "IS", "LB", "MB", "MI", "MK", "MS", "NV", "OE",
        "PC", "PE", "PP", "QS", "RE", "RP", "RS", "SC", "SR", "SS", "TR", "TU", "UR", "VS",
    ),
    "TRIAL DESIGN": ("TA", "TD", "TE", "TI", "TM", "TS", "TV"),
    "RELATIONSHIP": ("RELREC",),
}  # fmt: skip
DOMAIN_CLASS: Final[dict[str, DomainClass]] = {
    d: cls for cls, domains in _CLASSES.items() for d in domains
}
KNOWN_DOMAINS: Final[frozenset[str]] = frozenset(DOMAIN_CLASS)

# Domains without subjects (no USUBJID): trial design and RELREC's study-level rows.
SUBJECT_FREE: Final[frozenset[str]] = frozenset(_CLASSES["TRIAL DESIGN"])

_ID = ("STUDYID", "DOMAIN", "USUBJID", "--SEQ")
_TOPIC: dict[DomainClass, tuple[str, ...]] = {
    "INTERVENTIONS": ("--TRT",),
    "EVENTS": ("--TERM",),
    "FINDINGS": ("--TESTCD", "--TEST"),
}
# Variables required beyond the identifiers and the class's topic variable(s).
_EXTRA: dict[str, tuple[str, ...]] = {
    "AE": ("AEDECOD",),
    "DS": ("DSDECOD",),
    "IE": ("IECAT", "IEORRES", "IESTRESC"),
    "QS": ("QSCAT",),
}
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "DM": ("STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SITEID", "SEX", "COUNTRY"),
    "CO": ("STUDYID", "DOMAIN", "USUBJID", "COSEQ", "COVAL"),
    "SE": ("STUDYID", "DOMAIN", "USUBJID", "SESEQ", "ETCD", "SESTDTC"),
    "SV": ("STUDYID", "DOMAIN", "USUBJID", "VISITNUM"),
    "TA": ("STUDYID", "DOMAIN", "ARMCD", "ARM", "TAETORD", "ETCD"),
    "TE": ("STUDYID", "DOMAIN", "ETCD", "ELEMENT", "TESTRL"),
    "TI": ("STUDYID", "DOMAIN", "IETESTCD", "IETEST", "IECAT"),
    "TS": ("STUDYID", "DOMAIN", "TSSEQ", "TSPARMCD", "TSPARM"),
    "TV": ("STUDYID", "DOMAIN", "VISITNUM"),
    "TD": ("STUDYID", "DOMAIN", "TDORDER", "TDANCVAR"),
    "TM": ("STUDYID", "DOMAIN", "MIDSTYPE", "TMDEF"),
    "RELREC": ("STUDYID", "RDOMAIN", "IDVAR", "RELID"),
}
SUPP_REQUIRED: Final[tuple[str, ...]] = (
    "STUDYID", "RDOMAIN", "USUBJID", "QNAM", "QLABEL", "QVAL", "QORIG",
)  # fmt: skip

# Variables a normalised table reads, by class (suffixes after the two-letter prefix).
EVENT_VARIABLES: Final = (
    "TERM", "DECOD", "LLT", "LLTCD", "PTCD", "HLT", "HLTCD", "HLGT", "HLGTCD", "BODSYS",
    "BDSYCD", "SOC", "SOCCD", "CAT", "SCAT", "PRESP", "OCCUR", "STDTC", "ENDTC", "DTC",
)  # fmt: skip
INTERVENTION_VARIABLES: Final = (
    "TRT", "DECOD", "CAT", "SCAT", "CLAS", "CLASCD", "DOSE", "DOSU", "ROUTE", "PRESP",
    "OCCUR", "STDTC", "ENDTC", "DTC",
)  # fmt: skip
FINDING_VARIABLES: Final = (
    "TESTCD", "TEST", "CAT", "SCAT", "ORRES", "ORRESU", "STRESC", "STRESN", "STRESU", "STAT",
    "SPEC", "LOC", "METHOD", "LOINC", "DTC",
)  # fmt: skip

# SDTM "Num" variables: by suffix after the domain prefix, and whole names.
NUMERIC_SUFFIXES: Final = (
    "SEQ", "STRESN", "STNRLO", "STNRHI", "DOSE", "DOSTOT", "DY", "STDY", "ENDY", "TPTNUM",
    "LLTCD", "PTCD", "HLTCD", "HLGTCD", "BDSYCD", "SOCCD", "STREFN",
)  # fmt: skip
NUMERIC_NAMES: Final = frozenset({"AGE", "VISITNUM", "VISITDY", "TAETORD", "TDORDER"})
DATE_SUFFIX: Final = "DTC"


def _expand(domain: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(domain + n[2:] if n.startswith("--") else n for n in names)


def required_variables(domain: str, domain_class: str | None = None) -> tuple[str, ...]:
    """SDTMIG 3.3 "Req" variables of `domain` (a known one, or any domain of a general class:
    identifiers, topic variable(s) and the domain's extra required variables)."""
    if domain in REQUIRED:
        return REQUIRED[domain]
    cls = DOMAIN_CLASS.get(domain, domain_class)
    if cls not in _TOPIC:
        return ()
    topic = _TOPIC[cls]
    return _expand(domain, _ID + topic) + _EXTRA.get(domain, ())


def is_numeric_variable(domain: str, name: str) -> bool:
    """Whether SDTMIG types variable `name` of `domain` as Num."""
    if name in NUMERIC_NAMES:
        return True
    return name.startswith(domain) and name[len(domain) :] in NUMERIC_SUFFIXES


_CLASS_HINTS: tuple[tuple[DomainClass, tuple[str, ...]], ...] = (
    ("FINDINGS", ("TESTCD",)),
    ("INTERVENTIONS", ("TRT",)),
    ("EVENTS", ("TERM",)),
)
_PREFIX = re.compile(r"^[A-Z]{2}$")


def class_from_columns(domain: str, columns: list[str] | tuple[str, ...]) -> DomainClass | None:
    """The general class the variable names show (`XYTESTCD` -> findings, `XYTRT` ->
    interventions, `XYTERM` -> events), or None."""
    if not _PREFIX.match(domain):
        return None
    names = set(columns)
    for cls, suffixes in _CLASS_HINTS:
        if all(domain + s in names for s in suffixes):
            return cls
    return None
