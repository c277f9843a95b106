"""Recognising returning customers: ``evidence`` (what an event says about its author),
``decision`` (who that is), ``service`` (recognition and lookups against the profiles)."""
