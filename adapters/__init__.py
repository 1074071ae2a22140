"""Hyperfed adapters: the common query AST (`adapters.hql`), disclosure control, the
adapter contract (`adapters.base`), one package per data model (`adapters.omop` ...),
the synthetic data generator (`adapters.synth`) and the node service (`adapters.node`).
"""

__all__: list[str] = []
