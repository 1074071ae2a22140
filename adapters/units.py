"""UCUM units HQL value constraints may use, and linear conversion between them.

Each unit is `value_in_base = factor * value + offset` within its dimension. A value
range in one unit becomes, for every compatible unit a node records, the range of raw
values that means the same thing (`range_in()`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNITS", "Unit", "UnknownUnit", "compatible_units", "range_in", "unit"]


@dataclass(frozen=True)
class Unit:
    code: str
    dimension: str
    factor: float
    offset: float = 0.0


def _units() -> dict[str, Unit]:
    table: dict[str, list[tuple[str, float]]] = {
        "mass concentration": [
            ("g/L", 1),
            ("g/dL", 10),
            ("mg/dL", 0.01),
            ("mg/L", 1e-3),
            ("mg/mL", 1),
            ("ug/mL", 1e-3),
            ("ug/L", 1e-6),
            ("ng/mL", 1e-6),
            ("ng/L", 1e-9),
            ("pg/mL", 1e-9),
            ("g/mL", 1000),
            ("kg/L", 1000),
        ],
        "substance concentration": [
            ("mol/L", 1),
            ("mmol/L", 1e-3),
            ("umol/L", 1e-6),
            ("nmol/L", 1e-9),
            ("pmol/L", 1e-12),
        ],
        "fraction": [("%", 1)],
        "mass": [
            ("kg", 1000),
            ("g", 1),
            ("mg", 1e-3),
            ("ug", 1e-6),
            ("[lb_av]", 453.59237),
            ("[oz_av]", 28.349523125),
        ],
        "length": [("m", 1), ("cm", 1e-2), ("mm", 1e-3), ("[in_i]", 0.0254), ("[ft_i]", 0.3048)],
        "pressure": [("mm[Hg]", 1), ("kPa", 7.500616827), ("Pa", 0.007500616827)],
        "body mass index": [("kg/m2", 1)],
        "rate": [("/min", 1), ("{beats}/min", 1), ("{breaths}/min", 1)],
        "number concentration": [
            ("10*3/uL", 1000),
            ("10*9/L", 1000),
            ("/uL", 1),
            ("/mm3", 1),
            ("10*6/uL", 1e6),
            ("10*12/L", 1e6),
        ],
        "catalytic concentration": [("U/L", 1), ("[IU]/L", 1)],
        "volume": [("L", 1), ("dL", 0.1), ("mL", 1e-3)],
        "time": [
            ("s", 1),
            ("min", 60),
            ("h", 3600),
            ("d", 86400),
            ("wk", 604800),
            ("mo", 2629800),
            ("a", 31557600),
        ],
        "filtration rate": [("mL/min/{1.73_m2}", 1)],
    }
    units = {code: Unit(code, dim, float(f)) for dim, rows in table.items() for code, f in rows}
    units["K"] = Unit("K", "temperature", 1.0)
    units["Cel"] = Unit("Cel", "temperature", 1.0, 273.15)
    units["[degF]"] = Unit("[degF]", "temperature", 5 / 9, 273.15 - 32 * 5 / 9)
    return units


UNITS: dict[str, Unit] = _units()


class UnknownUnit(ValueError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"unsupported unit {code!r}; use a UCUM code such as "
            + ", ".join(repr(u) for u in ("g/dL", "mmol/L", "kg/m2", "mm[Hg]", "%"))
        )


def unit(code: str) -> Unit:
    found = UNITS.get(code.strip())
    if found is None:
        raise UnknownUnit(code)
    return found


def compatible_units(code: str) -> list[Unit]:
    u = unit(code)
    return [v for v in UNITS.values() if v.dimension == u.dimension]


def _clean(x: float) -> float:
    return float(f"{x:.12g}")


def range_in(
    low: float | None, high: float | None, given: str, target: str
) -> tuple[float | None, float | None]:
    """The inclusive range in `target` units equal to [low, high] in `given` units."""
    g, t = unit(given), unit(target)
    if g.dimension != t.dimension:
        raise ValueError(f"{given!r} and {target!r} measure different things")

    def conv(x: float | None) -> float | None:
        if x is None:
            return None
        return _clean(((g.factor * x + g.offset) - t.offset) / t.factor)

    return conv(low), conv(high)
