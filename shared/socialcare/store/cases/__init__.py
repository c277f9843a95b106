"""CasesTable: ``CasesRepository`` (cases, their timelines, pointers, markers and CRM state)."""

from socialcare.store.cases.crm_state import LaggingCase
from socialcare.store.cases.items import CustomerRace, DuplicateInteraction, OtherItemChanged, VersionConflict, iso
from socialcare.store.cases.repository import CasesRepository

__all__ = [
    "CasesRepository", "CustomerRace", "DuplicateInteraction", "LaggingCase", "OtherItemChanged", "VersionConflict",
    "iso",
]
