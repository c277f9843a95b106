"""Channels: one module per platform (payload models, signature check, parser to the canonical
``Interaction``), the brand accounts and their secrets (``accounts``) and what parsers share
(``common``). Parsers are pure: payload in, inbound events out. See docs/channels.md."""
