"""How a case reads inside a vendor CRM: subject, summary and one note per interaction.

Shared by the vendor adapters so a case looks the same in Salesforce, Zendesk and HubSpot.
"""

from __future__ import annotations

from socialcare.models.crm import CaseUpserted, CustomerView, InteractionView


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
    return "\n".join(lines)


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
