"""The battery catches wrong SQL: each deliberately wrong OMOP compiler below must disagree
with the in-memory oracle on at least one question (and the right one agrees on all, in
test_memory_vs_omop). A mutant that passes means the tests have a blind spot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from hyperfed.adapters.hql.model import AgeRange
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.adapters.omop import compiler as omop_compiler
from hyperfed.adapters.omop import plans as omop_plans
from hyperfed.adapters.sql import build
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from tests.adapters.memory import MemoryAdapter
from tests.crossmodel import population
from tests.crossmodel.battery import AS_OF, QUESTIONS


def _everyone_is_nobody(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(omop_compiler.OmopPredicates, "everyone", lambda self, e, b, p: exp.false())
    original = omop_plans._Planner._persons

    def persons(self: Any) -> exp.Select:
        return original(self).where(exp.false())

    mp.setattr(omop_plans._Planner, "_persons", persons)


def _except_swapped(mp: pytest.MonkeyPatch) -> None:
    original = exp.except_

    def swapped(left: Any, right: Any, *args: Any, **kwargs: Any) -> Any:
        return original(right, left, *args, **kwargs)

    mp.setattr(omop_plans.exp, "except_", swapped)


def _age_max_off_by_one(mp: pytest.MonkeyPatch) -> None:
    def age_in(birth: exp.Expr, key: exp.Expr | int, r: AgeRange) -> exp.Expr:
        wrong = AgeRange(min=r.min, max=None if r.max is None else max(r.max - 1, 0))
        if r.min is not None and wrong.max is not None and wrong.max < r.min:
            wrong = AgeRange(min=r.min, max=r.min)
        return build.age_in(birth, key, wrong)

    mp.setattr(omop_compiler, "age_in", age_in)


def _not_without_coalesce(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(
        omop_compiler.OmopPredicates,
        "negation",
        lambda self, part: exp.not_(exp.paren(part, copy=False)),
    )


def _descendants_dropped(mp: pytest.MonkeyPatch) -> None:
    from hyperfed.adapters.omop import vocab

    original = vocab.lookup

    def lookup(runner: Any, schema: Any, refs: Any, units: Any, deadline: Any = None) -> Any:
        refs = [type(r)(r.system, r.code, False) for r in refs]
        found = original(runner, schema, refs, units, deadline)
        found.codes.update({type(r)(r.system, r.code, True): v for r, v in found.codes.items()})
        return found

    mp.setattr("hyperfed.adapters.omop.adapter.lookup", lookup)


def _window_one_sided(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(omop_compiler.exp, "DateSub", lambda **kw: kw["this"])


def _unit_not_converted(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(omop_compiler, "range_in", lambda lo, hi, unit, to: (lo, hi))


MUTANTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "everyone-is-nobody": _everyone_is_nobody,
    "except-operands-swapped": _except_swapped,
    "age-max-off-by-one": _age_max_off_by_one,
    "not-without-coalesce": _not_without_coalesce,
    "descendants-dropped": _descendants_dropped,
    "window-one-sided": _window_one_sided,
    "unit-not-converted": _unit_not_converted,
}


@pytest.fixture(scope="module")
def expected(population_omop_messy: Path) -> dict[str, Any]:
    patients, vocabulary = population.load(population_omop_messy)
    memory, ontology = MemoryAdapter(patients, vocabulary), Ontology.load()
    out = {}
    for q in QUESTIONS:
        prepared = prepare(q.document(), ontology, {"omop"}, AS_OF)
        result = memory.count(prepared.query, prepared.bindings["omop"])
        out[q.id] = (result.total, result.strata)
    return out


@pytest.fixture()
def fresh_omop(population_omop_messy: Path) -> Iterator[Callable[[], OmopAdapter]]:
    opened: list[OmopAdapter] = []

    def make() -> OmopAdapter:
        opened.append(OmopAdapter.from_source(f"duckdb://{population_omop_messy}"))
        return opened[-1]

    yield make
    for a in opened:
        a.close()


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_wrong_compiler_fails_the_battery(
    name: str,
    expected: dict[str, Any],
    fresh_omop: Callable[[], OmopAdapter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    MUTANTS[name](monkeypatch)
    adapter, ontology = fresh_omop(), Ontology.load()
    wrong = []
    for q in QUESTIONS:
        prepared = prepare(q.document(), ontology, {"omop"}, AS_OF)
        try:
            result = adapter.count(prepared.query, prepared.bindings["omop"])
        except Exception:  # a mutant may also produce SQL the engine refuses: caught
            wrong.append(q.id)
            continue
        if (result.total, result.strata) != expected[q.id]:
            wrong.append(q.id)
    assert wrong, f"mutant {name!r} passes every question of the battery"
