"""A worked example of a case view: the example payload in docs/crm.md and the tests' fixture.

Kept in the package (a few hundred bytes) so the documentation, the published schema's example
and the tests all show the same, valid case.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socialcare.models.crm import CaseSnapshot, CaseView, CustomerIdentity, CustomerView, InteractionView

_T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def sample_view(
    case_id: str = "SC-2026-1",
    *,
    version: int = 1,
    status: str = "open",
    channels: tuple[str, ...] = ("x", "facebook"),
    customer_id: str = "cus-giulia",
    email: str | None = "giulia@example.com",
    phone: str | None = "+393331234567",
    merged_into: str | None = None,
    interactions: int | None = None,
) -> CaseView:
    count = len(channels) if interactions is None else interactions
    items = [
        InteractionView(
            id=f"{channels[i % len(channels)]}:{case_id}-m{i}",
            channel=channels[i % len(channels)],
            kind="public_post" if channels[i % len(channels)] in {"x", "facebook"} else "direct_message",
            public=channels[i % len(channels)] in {"x", "facebook"},
            author_id=f"author-{customer_id}",
            author_handle="@giulia",
            author_name="Giulia Rossi",
            text=f"message {i}: il pacco non è arrivato, chiedo il rimborso",
            occurred_at=_T0 + timedelta(minutes=10 * i),
            thread={"conversation_id": f"conv-{i}"},
        )
        for i in range(count)
    ]
    identities = [CustomerIdentity(kind=c, value=f"{c}-id") for c in dict.fromkeys(channels)]
    return CaseView(
        case=CaseSnapshot(
            id=case_id,
            version=version,
            status=status,
            is_open=status not in {"resolved", "merged"},
            priority="high",
            team="social",
            channels=list(dict.fromkeys(channels)),
            opened_at=_T0,
            updated_at=_T0 + timedelta(minutes=10 * max(0, count - 1)),
            first_response_due_at=_T0 + timedelta(hours=1),
            merged_into=merged_into,
        ),
        customer=CustomerView(
            id=customer_id,
            name="Giulia Rossi",
            tier="gold",
            emails=[email] if email else [],
            phones=[phone] if phone else [],
            identities=identities,
            channels=list(dict.fromkeys(channels)),
            first_seen_at=_T0,
            last_sentiment="negative",
        ),
        interactions=items,
    )
