"""Replies: the platforms' rules (``policy``), drafts matched to the customer's tone
(``drafts``), checking and queueing a reply (``service``) and what became of it (``state``)."""
