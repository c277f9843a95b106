"""CRM adapters: one module per vendor (``webhook``, ``salesforce``, ``zendesk``, ``hubspot``) on a
shared HTTP core (``base``), the inbound webhook formats and signatures (``inbound_events``), and
the shared rate limiter (``ratelimit``). The flows that use them are ``flows.crm_sync`` and
``flows.crm_webhook``."""
