"""A draft quotes the customer's reference as she wrote it, not as the profile stores it."""

from __future__ import annotations

import pytest

from socialcare.domain.replies.service import as_written


@pytest.mark.parametrize(("stored", "text", "quoted"), [
    ("123456", "il mio ordine ORD-123456 non è mai arrivato", "ORD-123456"),
    ("LX2026004711", "ordine LX-2026-004711.", "LX-2026-004711"),
    ("A7K3Q9X25", "my order #A7K3Q9X25 is late", "#A7K3Q9X25"),
    ("2024000431", "fattura 2024/000431, grazie", "2024/000431"),
    ("W123456789", "Order w123456789 never came", "w123456789"),
])
def test_the_reference_is_quoted_as_the_customer_wrote_it(stored: str, text: str, quoted: str) -> None:
    assert as_written(stored, ["unrelated text", text]) == quoted


def test_a_reference_she_did_not_write_in_this_case_is_not_quoted() -> None:
    # a reference from an older case must not appear in a draft: drafts never invent facts
    assert as_written("LX2026004711", ["il pacco non è arrivato", "ordine LX-2026-009999"]) is None
