"""DCAT-AP 3 / HealthDCAT-AP catalogue (its own issue; nothing here yet)."""

__all__: list[str] = []
