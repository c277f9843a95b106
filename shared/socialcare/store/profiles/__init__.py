"""ProfilesTable: ``ProfilesRepository`` (customers, identity claims, timelines, merges)."""

from socialcare.store.profiles.items import ClaimTaken, CustomerMoved, iso, now_iso
from socialcare.store.profiles.repository import ProfilesRepository

__all__ = ["ClaimTaken", "CustomerMoved", "ProfilesRepository", "iso", "now_iso"]
