"""DICOM tag-index adapter (placeholder docstring, completed below)."""
