"""Flows: what each function does, end to end - the processor pipeline, the agent API, the
webhooks, CRM sync and inbound, the case stream relay, the team dispatcher, the caller lookup, the
X poller, the SLA monitor run - each built at cold start by its ``build()`` from ``wiring``."""
