"""How a case reads inside a vendor CRM: subject, summary, one note per interaction and one per
reply that was sent, refused or failed (with why).

Shared by the vendor adapters so a case looks the same in Salesforce, Zendesk and HubSpot.
"""

from __future__ import annotations

from datetime import datetime

from socialcare.models.crm import CaseUpserted, CustomerView, InteractionView, ReplyView

# The reply states an agent in the CRM must hear about: it went out, or it never will (and why).
# Queued, delivered and read are on the summary only: a note per receipt would bury the ticket.
NOTED_REPLY_STATES = frozenset({"sent", "failed", "refused"})
SUMMARY_REPLIES = 5


def subject(event: CaseUpserted) -> str:
    case = event.case
    if case.subject:
        return case.subject[:250]
    first = next((i for i in event.interactions if i.direction == "inbound" and i.text), None)
    head = (first.text or "").strip().splitlines()[0][:120] if first and first.text else "social case"
    return f"[{case.id}] {head}"[:250]


def summary(event: CaseUpserted) -> str:
    case, customer = event.case, event.customer
    lines = [
        f"socialcare case {case.id} (version {case.version})",
        f"status: {case.status}  priority: {case.priority}  team: {case.team or '-'}",
        f"channels: {', '.join(case.channels) or '-'}",
        f"customer: {customer.name or customer.id} ({customer.id})",
    ]
    if customer.previous_case_ids:
        lines.append(f"previous cases: {', '.join(customer.previous_case_ids)}")
    if customer.last_sentiment:
        lines.append(f"last sentiment: {customer.last_sentiment}")
    if case.merged_into:
        lines.append(f"merged into: {case.merged_into}")
    if event.replies:
        lines.append("replies (newest last):")
        lines.extend(f"- {reply_line(r)}" for r in event.replies[-SUMMARY_REPLIES:])
    return "\n".join(lines)


def reply_line(reply: ReplyView) -> str:
    """'sent: whatsapp message by Marta (crm:zendesk), 2026-11-22T08:05:00+00:00' (+ '; why: ...')."""
    how = f"{reply.channel} {(reply.route or 'reply').replace('_', ' ')}"
    who = f"{reply.agent} ({reply.source})" if reply.agent else reply.source
    line = f"{reply.status}: {how} by {who}, {reply.at.isoformat()}"
    return f"{line}; why: {reply.reason}" if reply.reason else line


def reply_notes(event: CaseUpserted) -> list[tuple[str, str, datetime]]:
    """(idempotency key, note body, time) for each reply sent, refused or failed: the key names
    the reply and its status, so each outcome is noted once however often the case is synced."""
    notes = []
    for reply in event.replies:
        if reply.status not in NOTED_REPLY_STATES:
            continue
        body = f"[socialcare reply {reply_line(reply)}]"
        if reply.in_reply_to:
            body += f"\nin reply to: {reply.in_reply_to}"
        if reply.platform_message_id:
            body += f"\nplatform message id: {reply.platform_message_id}"
        notes.append((f"{reply.interaction_id}:{reply.status}", body, reply.at))
    return notes


def note(interaction: InteractionView) -> str:
    who = interaction.author_handle or interaction.author_name or interaction.author_id or "?"
    arrow = "from" if interaction.direction == "inbound" else "to"
    visibility = "public" if interaction.public else "private"
    when = interaction.occurred_at.isoformat()
    return f"[{interaction.channel} {interaction.kind}, {visibility}, {arrow} {who}, {when}]\n{interaction.text or ''}"


def merged_note(event: CaseUpserted) -> str:
    return f"Merged into socialcare case {event.case.merged_into}; follow that case for updates."


def split_name(customer: CustomerView) -> tuple[str, str]:
    """(first, last) for CRMs that require a last name."""
    name = (customer.name or "").strip()
    if not name:
        handle = next((i.value for i in customer.identities if i.kind in {"x", "instagram"}), None)
        return "", handle or customer.id
    first, _, last = name.rpartition(" ")
    return (first, last) if first else ("", last)
