"""Unit tests of the pure disclosure module: `Policy`, `protect`, `protect_sum`.

No database here: these pin the rules every released number obeys (threshold, rounding,
deterministic Laplace noise, Beacon v2 style reporting), for many node secrets.
"""

from __future__ import annotations

import math
import statistics

import pytest
from pydantic import ValidationError

from hyperfed.adapters.disclosure import (
    Policy,
    PolicyError,
    Protected,
    laplace_noise,
    protect,
    protect_sum,
    reprotect,
)

SECRETS = [f"node-secret-{i}".encode() for i in range(200)]
NO_NOISE = Policy(epsilon=None)
EXACT = Policy(threshold=1, rounding=1, epsilon=None)

# policies covering the settings an operator may choose (threshold not a multiple of the
# rounding base, rounding 1, heavy noise, a large sensitivity)
POLICIES = [
    Policy(),
    NO_NOISE,
    Policy(threshold=5, rounding=1),
    Policy(threshold=11, rounding=10, epsilon=0.1),
    Policy(threshold=3, rounding=7, epsilon=2.0),
    Policy(threshold=20, rounding=5, epsilon=1.0, sensitivity=3.0),
    Policy(threshold=10, rounding=10, epsilon=None, sensitivity=5.0),
]


def _suppressed_shape(p: Protected, policy: Policy, context: str) -> None:
    assert p.count is None, f"{context}: a suppressed result carries count={p.count}"
    assert p.status == "suppressed", f"{context}: status {p.status!r}, expected 'suppressed'"
    assert p.countAdjustedTo == [f"<{policy.threshold}"], (
        f"{context}: countAdjustedTo {p.countAdjustedTo}, expected ['<{policy.threshold}']"
    )
    assert p.countPrecision == "imprecise", (
        f"{context}: a suppressed result has countPrecision {p.countPrecision!r}"
    )


# -- threshold -------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.describe())
def test_counts_below_the_threshold_are_always_suppressed(policy: Policy) -> None:
    for secret in SECRETS:
        for n in range(policy.threshold):
            _suppressed_shape(
                protect(n, policy, secret), policy, f"true count {n}, secret {secret!r}"
            )


def test_zero_and_small_counts_are_indistinguishable() -> None:
    # the classic membership attack: "nobody" must look exactly like "a few"
    for secret in SECRETS[:50]:
        outputs = {protect(n, Policy(), secret).model_dump_json() for n in range(10)}
        assert len(outputs) == 1, f"counts 0..9 give {len(outputs)} distinct answers: {outputs}"


def test_suppressed_result_is_the_same_for_every_small_count_and_secret() -> None:
    answers = {protect(n, Policy(), s).model_dump_json() for n in range(10) for s in SECRETS}
    assert len(answers) == 1, f"suppressed answers differ: {answers}"


def test_negative_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        protect(-1, Policy(), b"s")


# -- released numbers ------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.describe())
def test_released_counts_are_at_least_k_and_multiples_of_the_rounding_base(
    policy: Policy,
) -> None:
    released = 0
    for secret in SECRETS[:20]:
        for n in range(0, 1500):
            p = protect(n, policy, secret)
            if p.status == "suppressed":
                _suppressed_shape(p, policy, f"true count {n}")
                continue
            released += 1
            assert p.count is not None, f"true count {n}: status ok without a count"
            assert p.count >= policy.threshold, (
                f"true count {n}: released {p.count} < threshold {policy.threshold}"
            )
            assert p.count % policy.rounding == 0, (
                f"true count {n}: released {p.count} is not a multiple of {policy.rounding}"
            )
    assert released > 0, "no count was released at all"


def test_a_count_far_above_the_threshold_is_released() -> None:
    for secret in SECRETS:
        p = protect(1000, Policy(), secret)
        assert p.status == "ok" and p.count is not None, f"1000 suppressed for {secret!r}"
        assert abs(p.count - 1000) <= 100, f"1000 released as {p.count}: noise far too large"


def test_noise_can_push_a_count_at_the_threshold_below_it() -> None:
    # a count of exactly k must sometimes be suppressed too (rule 4), so that suppression
    # does not mean "below k" for certain
    outcomes = {protect(10, Policy(), s).status for s in SECRETS}
    assert outcomes == {"ok", "suppressed"}, f"count 10 over 200 secrets gave only {outcomes}"


# -- determinism -----------------------------------------------------------------------


def test_same_secret_and_count_give_the_same_answer() -> None:
    for secret in SECRETS[:20]:
        for n in range(0, 300):
            first = protect(n, Policy(), secret)
            again = protect(n, Policy(threshold=10, rounding=10, epsilon=0.5), secret)
            assert first == again, f"count {n}: {first} then {again}"
            assert laplace_noise(secret, n, 2.0) == laplace_noise(secret, n, 2.0)


def test_different_secrets_give_different_answers_for_some_counts() -> None:
    a, b = b"secret-a", b"secret-b"
    counts = range(10, 500)
    differ = [n for n in counts if protect(n, Policy(), a) != protect(n, Policy(), b)]
    assert len(differ) > len(counts) // 10, (
        f"only {len(differ)} of {len(counts)} counts differ between two secrets"
    )
    noise_differ = [n for n in counts if laplace_noise(a, n, 2.0) != laplace_noise(b, n, 2.0)]
    assert len(noise_differ) == len(counts), "two secrets drew identical noise for some count"


def test_noise_depends_on_the_count() -> None:
    draws = {laplace_noise(b"s", n, 2.0) for n in range(1000)}
    assert len(draws) == 1000, "noise repeats across counts: it must be a fresh draw per count"


# -- noise distribution ----------------------------------------------------------------


def test_default_noise_scale_is_sensitivity_over_epsilon() -> None:
    assert Policy().noise_scale == 2.0
    assert Policy(epsilon=0.25, sensitivity=3.0).noise_scale == 12.0
    assert Policy(epsilon=None).noise_scale == 0.0
    assert laplace_noise(b"s", 17, 0.0) == 0.0


def test_noise_has_laplace_spread_with_the_default_epsilon() -> None:
    scale = Policy().noise_scale
    n_draws = 20_000
    draws = [laplace_noise(b"spread-secret", n, scale) for n in range(n_draws)]
    mean = statistics.fmean(draws)
    mad = statistics.fmean(abs(d) for d in draws)
    median_abs = statistics.median(abs(d) for d in draws)
    positive = sum(d > 0 for d in draws) / n_draws
    # standard errors: mean sqrt(2)*2/sqrt(20000) = 0.02, MAD 2/sqrt(20000) = 0.014
    assert abs(mean) < 0.1, f"mean noise {mean:.4f}, expected ~0"
    assert abs(mad - scale) < 0.1, f"mean absolute noise {mad:.4f}, expected ~{scale}"
    assert abs(median_abs - scale * math.log(2)) < 0.1, (
        f"median |noise| {median_abs:.4f}, expected ~{scale * math.log(2):.4f} (Laplace)"
    )
    assert abs(positive - 0.5) < 0.02, f"{positive:.3f} of the draws are positive, expected ~0.5"
    assert all(math.isfinite(d) for d in draws), "a noise draw is not finite"


def test_released_counts_are_centred_on_the_truth() -> None:
    # through protect(): rounding 1 so the released error is the (rounded) noise itself;
    # one question per count, so both noise layers (count-keyed and question-keyed, each
    # Laplace with scale 2) vary: the sum of two Laplace(b) has mean |error| 3b/2 = 3
    policy = Policy(threshold=1, rounding=1, epsilon=0.5)
    errors = []
    for n in range(100, 20_100):
        p = protect(n, policy, b"centred", b"question %d" % n)
        assert p.count is not None, f"count {n} suppressed"
        errors.append(p.count - n)
    mean = statistics.fmean(errors)
    mad = statistics.fmean(abs(e) for e in errors)
    assert abs(mean) < 0.15, f"mean released error {mean:.4f}, expected ~0"
    assert abs(mad - 3.0) < 0.25, f"mean absolute released error {mad:.4f}, expected ~3"
    assert any(e != 0 for e in errors), "noise was never visible"


# -- rounding and precision reporting (Beacon v2) --------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [(10, 10), (14, 10), (15, 20), (24, 20), (25, 30), (99, 100), (104, 100), (105, 110)],
)
def test_no_noise_policy_rounds_exactly(n: int, expected: int) -> None:
    for secret in SECRETS[:10]:
        p = protect(n, NO_NOISE, secret)
        assert p.count == expected, f"{n} rounded to {p.count}, expected {expected}"
        assert p.status == "ok"
        assert p.countPrecision == "rounded", f"countPrecision {p.countPrecision!r}"
        assert p.countAdjustedTo == [10], f"countAdjustedTo {p.countAdjustedTo}"


def test_rounding_one_without_noise_is_exact() -> None:
    for n in range(EXACT.threshold, 300):
        p = protect(n, EXACT, b"s")
        assert p.count == n, f"{n} released as {p.count} under an exact policy"
        assert p.countPrecision == "exact"
        assert p.countAdjustedTo == []


def test_noisy_policy_reports_imprecise_with_its_adjustments() -> None:
    p = protect(1000, Policy(), b"s")
    assert p.countPrecision == "imprecise"
    assert p.countAdjustedTo == ["laplace(epsilon=0.5)", 10]
    q = protect(1000, Policy(threshold=1, rounding=1, epsilon=1.0), b"s")
    assert q.countPrecision == "imprecise"
    assert q.countAdjustedTo == ["laplace(epsilon=1.0)"]


def test_count_precision_is_always_a_beacon_value() -> None:
    for policy in POLICIES:
        for n in range(0, 60):
            p = protect(n, policy, b"s")
            assert p.countPrecision in ("exact", "rounded", "imprecise")
            for a in p.countAdjustedTo:
                assert isinstance(a, int) or (isinstance(a, str) and a), f"adjustment {a!r}"


# -- Policy ----------------------------------------------------------------------------


def test_default_policy() -> None:
    p = Policy()
    assert (p.threshold, p.rounding, p.epsilon, p.sensitivity) == (10, 10, 0.5, 1.0)
    assert "below 10" in p.describe() and "epsilon=0.5" in p.describe()
    assert "no noise" in NO_NOISE.describe()


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": 0},
        {"rounding": 0},
        {"epsilon": 0},
        {"epsilon": -1},
        {"epsilon": float("inf")},
        {"epsilon": float("nan")},
        {"sensitivity": 0},
        {"unknown": 1},
    ],
)
def test_invalid_policies_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises((ValidationError, PolicyError)):
        Policy.model_validate(bad)


def test_policy_is_frozen() -> None:
    p = Policy()
    with pytest.raises(ValidationError):
        p.threshold = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("own", "floor", "expected"),
    [
        (
            Policy(threshold=1, rounding=1, epsilon=None),
            Policy(),
            Policy(threshold=10, rounding=10, epsilon=0.5),
        ),
        (
            Policy(threshold=20, rounding=5, epsilon=0.2, sensitivity=2.0),
            Policy(threshold=10, rounding=10, epsilon=0.5, sensitivity=1.0),
            Policy(threshold=20, rounding=10, epsilon=0.2, sensitivity=2.0),
        ),
        (
            Policy(epsilon=0.5),
            Policy(epsilon=None),
            Policy(epsilon=0.5),
        ),
        (
            Policy(epsilon=None),
            Policy(epsilon=None),
            Policy(epsilon=None),
        ),
        (
            Policy(threshold=5, rounding=20, epsilon=1.0),
            Policy(threshold=15, rounding=10, epsilon=2.0, sensitivity=4.0),
            Policy(threshold=15, rounding=20, epsilon=1.0, sensitivity=4.0),
        ),
    ],
)
def test_at_least_takes_the_stricter_setting_of_each_field(
    own: Policy, floor: Policy, expected: Policy
) -> None:
    got = own.at_least(floor)
    assert got == expected, f"{own}.at_least({floor}) = {got}, expected {expected}"
    assert got.threshold >= max(own.threshold, floor.threshold)
    assert got.rounding >= max(own.rounding, floor.rounding)
    assert got.noise_scale >= max(own.noise_scale, floor.noise_scale)


def test_at_least_never_weakens_either_side() -> None:
    policies = [*POLICIES, EXACT]
    for a in policies:
        for b in policies:
            got = a.at_least(b)
            for side in (a, b):
                assert got.threshold >= side.threshold
                assert got.rounding >= side.rounding
                assert got.noise_scale >= side.noise_scale, f"{a}.at_least({b}) lost noise"
                if side.epsilon is not None:
                    assert got.epsilon is not None and got.epsilon <= side.epsilon


# -- protect_sum -----------------------------------------------------------------------


def _ok(count: int, policy: Policy = NO_NOISE) -> Protected:
    p = protect(count, policy, b"s")
    assert p.status == "ok", f"test setup: {count} suppressed under {policy}"
    return p


def test_protect_sum_adds_only_released_parts() -> None:
    parts = [_ok(20), _ok(30), protect(7, NO_NOISE, b"s"), protect(0, NO_NOISE, b"s")]
    total = protect_sum(parts, NO_NOISE)
    assert total.count == 50, f"total {total.count}, expected 20 + 30 (suppressed parts add 0)"
    assert total.status == "ok"
    assert total.countPrecision == "rounded"
    assert total.countAdjustedTo == [10]


def test_protect_sum_never_reveals_a_suppressed_part() -> None:
    # the total is the same whatever the true counts behind the suppressed parts were
    totals = {
        protect_sum([_ok(40), protect(hidden, Policy(), b"s")], Policy()).model_dump_json()
        for hidden in range(10)
    }
    assert len(totals) == 1, f"the total depends on a suppressed part's true count: {totals}"


def test_protect_sum_rethresholds() -> None:
    floor = Policy(threshold=20, rounding=10, epsilon=None)
    assert protect_sum([_ok(10)], floor).status == "suppressed"
    assert protect_sum([_ok(10)], floor).countAdjustedTo == ["<20"]
    assert protect_sum([_ok(10), _ok(10)], floor).count == 20
    all_suppressed = [protect(n, Policy(), b"s") for n in range(10)]
    _suppressed_shape(protect_sum(all_suppressed, Policy()), Policy(), "sum of suppressed")
    _suppressed_shape(protect_sum([], Policy()), Policy(), "empty sum")


def test_protect_sum_rounds_exact_parts() -> None:
    parts = [_ok(13, EXACT), _ok(14, EXACT)]
    total = protect_sum(parts, NO_NOISE)
    assert total.count == 30, f"13 + 14 rounded to {total.count}, expected 30"
    assert total.countPrecision == "rounded"
    assert total.countAdjustedTo == [10]
    exact = protect_sum(parts, EXACT)
    assert exact.count == 27 and exact.countPrecision == "exact" and exact.countAdjustedTo == []


def test_protect_sum_of_noisy_parts_is_imprecise() -> None:
    parts = [_ok(1000, Policy()), _ok(500, NO_NOISE)]
    total = protect_sum(parts, NO_NOISE)
    assert total.countPrecision == "imprecise"
    assert total.countAdjustedTo == ["laplace(epsilon=0.5)", 10]
    assert total.count is not None and total.count % 10 == 0
    assert total.count == sum(p.count for p in parts if p.count is not None)


def test_protect_sum_results_obey_the_floor() -> None:
    floor = Policy(threshold=10, rounding=10, epsilon=None)
    for a in range(0, 40):
        for b in range(0, 40, 3):
            parts = [protect(a, EXACT, b"s"), protect(b, EXACT, b"s")]
            total = protect_sum(parts, floor)
            if total.status == "ok":
                assert total.count is not None
                assert total.count >= 10 and total.count % 10 == 0, f"{a}+{b} -> {total.count}"
            else:
                assert total.count is None


# -- reprotect (the hub's floor: post-processing of released numbers) -------------------

LAX = Policy(threshold=1, rounding=1, epsilon=None)


def test_reprotect_under_the_same_policy_changes_nothing() -> None:
    for secret in SECRETS[:20]:
        for n in range(0, 400):
            p = protect(n, Policy(), secret)
            assert reprotect(p, Policy()) == p, f"count {n}: {p} -> {reprotect(p, Policy())}"


@pytest.mark.parametrize("policy", [*POLICIES, LAX], ids=lambda p: p.describe())
def test_reprotect_output_obeys_the_floor(policy: Policy) -> None:
    floor = Policy()
    for secret in SECRETS[:10]:
        for n in range(0, 400):
            before = protect(n, policy, secret)
            after = reprotect(before, floor)
            if before.status == "suppressed":
                assert after.status == "suppressed" and after.count is None, (
                    f"count {n}: a suppressed number came back as {after}"
                )
            if after.status == "ok":
                assert after.count is not None and after.count >= floor.threshold, (
                    f"count {n} under {policy}: floored to {after.count} < {floor.threshold}"
                )
                assert after.count % floor.rounding == 0, f"count {n}: {after.count}"
            else:
                assert after.count is None


def test_reprotect_a_stricter_node_keeps_its_own_suppression() -> None:
    strict = Policy(threshold=20, rounding=10, epsilon=None)
    for n in range(0, 20):
        after = reprotect(protect(n, strict, b"s"), Policy())
        assert after.status == "suppressed" and after.count is None, f"{n}: {after}"


def test_reprotect_suppresses_a_lax_nodes_small_counts() -> None:
    for n in range(0, 10):
        after = reprotect(protect(n, LAX, b"s"), Policy())
        assert after.status == "suppressed" and after.count is None, (
            f"LEAK: a lax node's true count {n} leaves the floor as {after.count}"
        )


def test_reprotect_small_counts_are_indistinguishable() -> None:
    for policy in (LAX, Policy(threshold=5, rounding=1, epsilon=None)):
        answers = {
            reprotect(protect(n, policy, b"s"), Policy()).model_dump_json() for n in range(10)
        }
        assert len(answers) == 1, f"LEAK: behind {policy} counts 0..9 give {answers}"


def test_reprotect_labels_do_not_depend_on_the_count() -> None:
    labels = set()
    for n in range(10, 300):
        after = reprotect(protect(n, LAX, b"s"), Policy(epsilon=None))
        labels.add((after.countPrecision, tuple(after.countAdjustedTo)))
    assert len(labels) == 1, f"LEAK: the adjustment labels vary with the true count: {labels}"
