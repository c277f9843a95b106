"""Data rights: export, erasure (with tombstones), retention and Meta's data-deletion callback
(docs/privacy.md)."""
