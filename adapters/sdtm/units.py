"""SDTM unit terms (CDISC controlled terminology codelist UNIT, C71620, and what sites write in
its place) mapped to UCUM codes, the units `hyperfed.adapters.units` converts.

The CDISC submission values differ from UCUM mostly in exponents (`10^9/L` is UCUM `10*9/L`),
in bracketed units (`mmHg` is `mm[Hg]`, `IU/L` is `[IU]/L`), in temperature (`C` is `Cel`) and
in annotations (`beats/min` is `{beats}/min`). `ucum_for` looks a term up exactly, then without
regard to case (`MG/DL`), then accepts a term that already is one of the UCUM codes the project
converts; anything else is unknown (None) and a result in it cannot be compared with a value in
a query.
"""

from __future__ import annotations

from typing import Final, Literal

from hyperfed.adapters.units import UNITS

__all__ = ["SDTM_TO_UCUM", "MappedBy", "ucum_for"]

MappedBy = Literal["table", "case", "ucum"]

# (SDTM term, UCUM code). Several terms may map to one code (site variants of CDISC terms).
_PAIRS: tuple[tuple[str, str], ...] = (
    # number concentration (cell counts)
    ("10^9/L", "10*9/L"),
    ("10E9/L", "10*9/L"),
    ("x10^9/L", "10*9/L"),
    ("GI/L", "10*9/L"),
    ("10^12/L", "10*12/L"),
    ("10E12/L", "10*12/L"),
    ("x10^12/L", "10*12/L"),
    ("TI/L", "10*12/L"),
    ("10^3/uL", "10*3/uL"),
    ("10^6/uL", "10*6/uL"),
    ("10^3/mm3", "10*3/mm3"),
    ("10^6/mm3", "10*6/mm3"),
    ("/uL", "/uL"),
    ("cells/uL", "/uL"),
    ("/mm3", "/mm3"),
    ("/HPF", "/[HPF]"),
    ("/LPF", "/[LPF]"),
    # mass concentration
    ("g/L", "g/L"),
    ("g/dL", "g/dL"),
    ("mg/dL", "mg/dL"),
    ("mg/L", "mg/L"),
    ("mg/mL", "mg/mL"),
    ("ug/mL", "ug/mL"),
    ("ug/L", "ug/L"),
    ("ug/dL", "ug/dL"),
    ("ng/mL", "ng/mL"),
    ("ng/L", "ng/L"),
    ("ng/dL", "ng/dL"),
    ("pg/mL", "pg/mL"),
    ("g/mL", "g/mL"),
    # substance concentration
    ("mol/L", "mol/L"),
    ("mmol/L", "mmol/L"),
    ("umol/L", "umol/L"),
    ("nmol/L", "nmol/L"),
    ("pmol/L", "pmol/L"),
    ("mEq/L", "meq/L"),
    ("mOsm/kg", "mosm/kg"),
    # catalytic activity / international units
    ("U/L", "U/L"),
    ("IU/L", "[IU]/L"),
    ("mU/L", "mU/L"),
    ("mIU/L", "m[IU]/L"),
    ("mIU/mL", "m[IU]/mL"),
    ("uIU/mL", "u[IU]/mL"),
    ("uU/mL", "uU/mL"),
    ("IU/mL", "[IU]/mL"),
    ("IU", "[IU]"),
    # fractions and ratios
    ("%", "%"),
    ("fraction of 1", "1"),
    ("ratio", "{ratio}"),
    # amounts, volumes, cell indices
    ("fL", "fL"),
    ("pg", "pg"),
    ("fmol", "fmol"),
    ("L", "L"),
    ("dL", "dL"),
    ("mL", "mL"),
    ("mL/min", "mL/min"),
    ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
    ("mL/min/1.73 m2", "mL/min/{1.73_m2}"),
    # vital signs
    ("mmHg", "mm[Hg]"),
    ("kPa", "kPa"),
    ("beats/min", "{beats}/min"),
    ("BEATS/MIN", "{beats}/min"),
    ("breaths/min", "{breaths}/min"),
    ("/min", "/min"),
    ("C", "Cel"),
    ("F", "[degF]"),
    ("K", "K"),
    ("kg", "kg"),
    ("g", "g"),
    ("mg", "mg"),
    ("ug", "ug"),
    ("LB", "[lb_av]"),
    ("lb", "[lb_av]"),
    ("oz", "[oz_av]"),
    ("cm", "cm"),
    ("m", "m"),
    ("mm", "mm"),
    ("in", "[in_i]"),
    ("ft", "[ft_i]"),
    ("kg/m2", "kg/m2"),
    ("m2", "m2"),
    # time
    ("sec", "s"),
    ("s", "s"),
    ("msec", "ms"),
    ("ms", "ms"),
    ("min", "min"),
    ("h", "h"),
    ("HOURS", "h"),
    ("DAYS", "d"),
    ("WEEKS", "wk"),
    ("MONTHS", "mo"),
    ("YEARS", "a"),
)

SDTM_TO_UCUM: Final[dict[str, str]] = dict(_PAIRS)


def _folded() -> dict[str, str]:
    """Upper-cased terms that still name exactly one UCUM code."""
    seen: dict[str, set[str]] = {}
    for term, code in _PAIRS:
        seen.setdefault(term.upper(), set()).add(code)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


_FOLDED: Final[dict[str, str]] = _folded()


def ucum_for(term: str | None) -> tuple[str, MappedBy] | None:
    """The UCUM code of SDTM unit `term` and how it was found, or None when unknown/empty."""
    if term is None:
        return None
    text = term.strip()
    if not text:
        return None
    if text in SDTM_TO_UCUM:
        return SDTM_TO_UCUM[text], "table"
    folded = _FOLDED.get(text.upper())
    if folded is not None:
        return folded, "case"
    if text in UNITS:
        return text, "ucum"
    return None
