"""Domain services: identity, cases, triage, routing, SLA, listening, FAQ, work items, the
channels' parsers, media, merges and the CRM's read model. Services receive their repositories,
the publisher and their rules in their constructors (``flows.wiring`` builds them)."""
