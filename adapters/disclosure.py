"""Small-cell disclosure control: the only way a count leaves a node or the hub.

Pure functions over integers. A node applies `protect()` to every number it returns
(totals and strata) before it leaves the process; the hub builds totals only from
already-protected numbers and protects them again with `protect_sum()`.

The rules, in order:

1. A true count below the threshold k — including 0 — is never released: the result is
   ``suppressed`` with ``count = None``. Zero is suppressed too, so "nobody" cannot be
   told apart from "a few" (the classic membership attack on a known individual).
2. Otherwise, optional noise is added: two Laplace draws, each with scale
   ``sensitivity / epsilon``, both deterministic (HMAC-SHA256 of the node secret):
   - one keyed on the *true count* (as in MII feasibility and Samply Focus): averaging
     many reformulations of a question that canonicalisation does not merge leaves this
     offset in place, so it never converges on the true count;
   - one keyed on the *question* (the canonical query's key and the stratum): without
     it, "Q" and "Q and not X" would get identical answers exactly when X removes
     nobody — an equality oracle for membership.
   A repeat, and any spelling with the same canonical form, gets the same answer.
3. The noisy count is rounded to the nearest multiple of the rounding base.
4. If the result is below k it is suppressed as well (so a suppression does not reveal
   that the true count is below k exactly).

Every released number says how it was adjusted, GA4GH Beacon v2 style:
``countPrecision`` is ``exact``, ``rounded`` or ``imprecise`` (noise added), and
``countAdjustedTo`` lists the adjustments, e.g. ``["laplace(epsilon=0.5)", 10]`` where an
integer is the rounding base; for a suppressed number it lists ``"<k"``.

Errors: `PolicyError` (a ValueError) for an invalid policy.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Policy",
    "PolicyError",
    "Protected",
    "laplace_noise",
    "protect",
    "protect_sum",
    "reprotect",
]


class PolicyError(ValueError):
    """An invalid disclosure policy."""


class Policy(BaseModel):
    """A disclosure policy: set per node by its operator, with a floor set by the hub."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    rounding: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    epsilon: Annotated[float | None, Field(gt=0, le=100)] = 0.5
    sensitivity: Annotated[float, Field(gt=0, le=1000)] = 1.0

    @field_validator("epsilon", mode="before")
    @classmethod
    def _no_noise(cls, value: object) -> object:
        # TOML has no null: `epsilon = false` (or "none") switches the noise off
        return None if value is False or value in ("none", "off") else value

    @model_validator(mode="after")
    def _check(self) -> Policy:
        if self.epsilon is not None and not math.isfinite(self.epsilon):
            raise PolicyError("epsilon must be a finite number")
        return self

    @property
    def noise_scale(self) -> float:
        return 0.0 if self.epsilon is None else self.sensitivity / self.epsilon

    def at_least(self, floor: Policy) -> Policy:
        """This policy, made at least as protective as `floor` on every setting."""
        if floor.epsilon is None:
            epsilon = self.epsilon
        elif self.epsilon is None:
            epsilon = floor.epsilon
        else:
            epsilon = min(self.epsilon, floor.epsilon)
        return Policy(
            threshold=max(self.threshold, floor.threshold),
            rounding=max(self.rounding, floor.rounding),
            epsilon=epsilon,
            sensitivity=max(self.sensitivity, floor.sensitivity),
        )

    def describe(self) -> str:
        noise = "no noise" if self.epsilon is None else f"Laplace noise (epsilon={self.epsilon})"
        return (
            f"counts below {self.threshold} suppressed; {noise}; "
            f"rounded to a multiple of {self.rounding}"
        )


Precision = Literal["exact", "rounded", "imprecise"]


class Protected(BaseModel):
    """One protected number, as released."""

    model_config = ConfigDict(frozen=True)

    count: Annotated[int | None, Field(ge=0, le=10**10)]
    status: Literal["ok", "suppressed"]
    countAdjustedTo: list[str | int]
    countPrecision: Precision


def _uniform_bytes(secret: bytes, message: bytes) -> float:
    """A uniform number in (0, 1), a deterministic function of (secret, message)."""
    digest = hmac.new(secret, b"hyperfed-noise-v1|" + message, hashlib.sha256).digest()
    bits = int.from_bytes(digest[:8], "big") >> 11  # 53 bits
    return (bits + 0.5) / float(1 << 53)


def _uniform(secret: bytes, true_count: int) -> float:
    return _uniform_bytes(secret, b"%d" % true_count)


def _laplace(uniform: float, scale: float) -> float:
    u = uniform - 0.5
    return -scale * math.copysign(1.0, u) * math.log(1.0 - 2.0 * abs(u))


def laplace_noise(secret: bytes, true_count: int, scale: float) -> float:
    """Laplace(0, scale) noise drawn deterministically from the secret and the count."""
    if scale == 0:
        return 0.0
    return _laplace(_uniform(secret, true_count), scale)


def _round_to(value: float, base: int) -> int:
    return math.floor(value / base + 0.5) * base


def _adjustments(policy: Policy, noisy: bool) -> tuple[list[str | int], Precision]:
    adjusted: list[str | int] = []
    if noisy:
        adjusted.append(f"laplace(epsilon={policy.epsilon})")
    if policy.rounding > 1:
        adjusted.append(policy.rounding)
    precision: Precision = "imprecise" if noisy else ("rounded" if policy.rounding > 1 else "exact")
    return adjusted, precision


def _suppressed(policy: Policy, at_least: int = 0) -> Protected:
    return Protected(
        count=None,
        status="suppressed",
        countAdjustedTo=[f"<{max(policy.threshold, at_least)}"],
        countPrecision="imprecise",
    )


def protect(true_count: int, policy: Policy, secret: bytes, context: bytes = b"") -> Protected:
    """Protect one true count under `policy` (see the module docstring). `context` names
    the question (the canonical query's key and the stratum) for the second noise layer."""
    if true_count < 0:
        raise ValueError("a count cannot be negative")
    if true_count < policy.threshold:
        return _suppressed(policy)
    noise = laplace_noise(secret, true_count, policy.noise_scale)
    if policy.noise_scale:
        noise += _laplace(_uniform_bytes(secret, b"question|" + context), policy.noise_scale)
    released = _round_to(true_count + noise, policy.rounding)
    if released < policy.threshold:
        return _suppressed(policy)
    adjusted, precision = _adjustments(policy, policy.epsilon is not None)
    return Protected(
        count=released, status="ok", countAdjustedTo=adjusted, countPrecision=precision
    )


def reprotect(released: Protected, floor: Policy) -> Protected:
    """Apply a floor policy to an already-released number (pure post-processing, so it
    can never reveal more than the number itself). The hub does this to every node's
    numbers, so a node configured laxer than the federation floor cannot push a small
    count through. No policy ever travels with a request: a caller who could choose the
    noise scale or the rounding base per query could solve for the true count.

    The threshold is checked before rounding (a lax node's 5 must not become 10), a
    suppressed number is relabelled with the stricter threshold (a lax node's "<1" would
    mean exactly 0), and the labels never depend on the value."""
    node_k = _threshold_of(released)
    if released.status == "suppressed" or released.count is None:
        return _suppressed(floor, node_k)
    if released.count < floor.threshold:
        return _suppressed(floor, node_k)
    count = released.count
    adjusted = list(released.countAdjustedTo)
    precision = released.countPrecision
    if floor.rounding > 1:
        count = _round_to(count, floor.rounding)
        if floor.rounding not in adjusted:
            adjusted.append(floor.rounding)
        precision = "imprecise" if precision == "imprecise" else "rounded"
    if count < floor.threshold:
        return _suppressed(floor, node_k)
    return Protected(count=count, status="ok", countAdjustedTo=adjusted, countPrecision=precision)


def _threshold_of(p: Protected) -> int:
    for a in p.countAdjustedTo:
        if isinstance(a, str) and a.startswith("<") and a[1:].isdigit():
            return int(a[1:])
    return 0


def protect_sum(released: list[Protected], policy: Policy) -> Protected:
    """A total built only from already-protected numbers, protected again.

    Suppressed parts contribute nothing (the total is then a lower bound, which the
    caller reports); the sum is thresholded and rounded under `policy` (no fresh noise:
    the parts are noisy already)."""
    parts = [p for p in released if p.status == "ok" and p.count is not None]
    total = sum(p.count for p in parts if p.count is not None)
    if total < policy.threshold:
        return _suppressed(policy)
    rounded = _round_to(total, policy.rounding)
    if rounded < policy.threshold:
        return _suppressed(policy)
    noisy = any(p.countPrecision == "imprecise" for p in parts)
    adjusted: list[str | int] = []
    for p in parts:
        for a in p.countAdjustedTo:
            if a not in adjusted:
                adjusted.append(a)
    if policy.rounding > 1 and policy.rounding not in adjusted:
        adjusted.append(policy.rounding)
    exact = all(p.countPrecision == "exact" for p in parts) and policy.rounding == 1
    precision: Precision = "imprecise" if noisy else ("exact" if exact else "rounded")
    return Protected(count=rounded, status="ok", countAdjustedTo=adjusted, countPrecision=precision)
