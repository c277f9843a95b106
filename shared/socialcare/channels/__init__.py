"""Channels: one module per platform (payload models, signature check, parser to the canonical
``Interaction``) plus the shared ingest mechanics (``common``), brand accounts and secrets
(``accounts``), the SDK sessions (``sdk``), media fetching (``media``), the X poller
(``poller``) and the Amazon Connect caller lookup (``callerlookup``). See docs/channels.md.
"""
