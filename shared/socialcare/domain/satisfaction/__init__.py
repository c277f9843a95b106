"""Customer satisfaction: the survey after resolution, reading its answer, and the report series
(docs/satisfaction.md)."""
