"""Errors raised by the synthetic generator (the tree is drawn in `hyperfed.synth`)."""

from __future__ import annotations

__all__ = ["SynthError", "SynthSpecError", "SynthWriteError"]


class SynthError(Exception):
    """Base of every error raised by `hyperfed.synth`."""


class SynthSpecError(SynthError, ValueError):
    """A `SynthSpec` field holds a value the generator cannot honour."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"SynthSpec.{field}={value!r}: {reason}")


class SynthWriteError(SynthError):
    """Writing the generated tables to a database failed (names the target and table)."""
