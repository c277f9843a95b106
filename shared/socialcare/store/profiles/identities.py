"""Customers and their identities: claims, reverse identities, handles, suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from socialcare.models.profile import NewIdentity, Profile, Suggestion
from socialcare.store.codec import (
    attribute_value,
    cancellation_codes,
    cancelled,
    conditionally,
    from_item,
    key,
    to_item,
)
from socialcare.store.profiles.items import (
    CLAIM,
    IDENTITY_PREFIX,
    PROFILE,
    SUGGESTION_PREFIX,
    ClaimTaken,
    CustomerMoved,
    claim_pk,
    customer_pk,
    handle_pk,
    now_iso,
    sk_of,
)
from socialcare.store.profiles.reads import ProfileReads


class IdentityWrites(ProfileReads):

    def _identity_actions(self, customer_id: str, identities: Sequence[NewIdentity], at: str) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for ident in identities:
            actions.append({
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({
                        "pk": claim_pk(ident.kind, ident.value), "sk": CLAIM, "type": "claim",
                        "kind": ident.kind, "value": ident.value, "customer_id": customer_id,
                        "verified": ident.verified, "claimed_at": at,
                    }),
                    **(
                        {"ConditionExpression": "customer_id = :orphan",
                         "ExpressionAttributeValues": {":orphan": {"S": ident.replaces}}}
                        if ident.replaces else {"ConditionExpression": "attribute_not_exists(pk)"}
                    ),
                }
            })
            actions.append({
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({
                        "pk": customer_pk(customer_id), "sk": f"{IDENTITY_PREFIX}{ident.key}",
                        "type": "identity", "kind": ident.kind, "value": ident.value,
                        "verified": ident.verified, "source": ident.source, "added_at": at,
                        "origin_customer_id": customer_id, "handle": ident.handle,
                    }),
                }
            })
        return actions

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if not cancelled(exc):
                raise
            reasons = cancellation_codes(exc)
            profile_failed = any(
                code == "ConditionalCheckFailed" and sk_of(action) == PROFILE
                for code, action in zip(reasons, actions, strict=False)
            )
            if profile_failed:
                raise CustomerMoved("customer changed (merged) during the write") from exc
            # A claim taken by someone else, or a conflicting concurrent transaction: either way
            # the caller re-reads and resolves again.
            raise ClaimTaken(",".join(reasons)) from exc

    def create_customer(
        self, profile: Profile, identities: Sequence[NewIdentity], handles: dict[str, str] | None = None
    ) -> None:
        """Create a customer and claim its identifiers atomically; ClaimTaken if any is taken."""
        at = now_iso()
        data = profile.model_dump(exclude_none=True)
        data.update(pk=customer_pk(profile.id), sk=PROFILE, type="customer", created_at=at)
        for empty_set in ("verified_phones", "verified_emails", "suggested_with"):
            if not data.get(empty_set):
                data.pop(empty_set, None)
        actions = [{
            "Put": {
                "TableName": self.table,
                "Item": to_item(data),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }]
        actions += self._identity_actions(profile.id, identities, at)
        actions += self._handle_actions(profile.id, handles or {})
        self._transact(actions)

    def _handle_actions(self, customer_id: str, handles: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {"Put": {"TableName": self.table, "Item": to_item({
                "pk": handle_pk(channel, handle), "sk": CLAIM, "type": "handle", "customer_id": customer_id,
                "handle": handle,
            })}}
            for channel, handle in handles.items()
        ]

    def attach(
        self,
        customer_id: str,
        identities: Sequence[NewIdentity],
        *,
        upgrades: Sequence[NewIdentity] = (),
        known_names: list[str] | None = None,
        name: str | None = None,
        handles: dict[str, str] | None = None,
    ) -> None:
        """Give an existing customer new identities (and verify claimed ones), atomically.

        ``name`` only fills a missing display name (a caller known by number who later writes).
        """
        at = now_iso()
        actions = self._identity_actions(customer_id, identities, at)
        for ident in upgrades:
            actions.append({"Update": {
                "TableName": self.table, "Key": key(claim_pk(ident.kind, ident.value), CLAIM),
                "UpdateExpression": "SET verified = :t",
                "ConditionExpression": "customer_id = :c",
                "ExpressionAttributeValues": {":t": {"BOOL": True}, ":c": {"S": customer_id}},
            }})
            actions.append({"Update": {
                "TableName": self.table, "Key": key(customer_pk(customer_id), f"{IDENTITY_PREFIX}{ident.key}"),
                "UpdateExpression": "SET verified = :t",
                "ExpressionAttributeValues": {":t": {"BOOL": True}},
            }})
        actions += self._handle_actions(customer_id, handles or {})
        sets: list[str] = ["updated_at = :now"]
        adds: list[str] = []
        values: dict[str, Any] = {":now": {"S": at}}
        verified = [*identities, *upgrades]
        phones = {i.value for i in verified if i.verified and i.kind == "phone"}
        emails = {i.value for i in verified if i.verified and i.kind == "email"}
        if phones:
            adds.append("verified_phones :ph")
            values[":ph"] = {"SS": sorted(phones)}
        if emails:
            adds.append("verified_emails :em")
            values[":em"] = {"SS": sorted(emails)}
        if known_names is not None:
            sets.append("known_names = :names")
            values[":names"] = attribute_value(known_names)
        if name:
            sets.append("#name = if_not_exists(#name, :name)")
            values[":name"] = {"S": name}
        if handles:
            sets.append("handles = :handles")
            values[":handles"] = attribute_value(handles)
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        actions.append({"Update": {
            "TableName": self.table, "Key": key(customer_pk(customer_id), PROFILE),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(merged_into)",
            "ExpressionAttributeValues": values,
            **({"ExpressionAttributeNames": {"#name": "name"}} if name else {}),
        }})
        self._transact(actions)

    def put_suggestion(
        self, a: str, b: str, reason: str, evidence: list[dict[str, str]], interaction_id: str | None
    ) -> None:
        """A match suggestion for an agent, stored on both customers (idempotent per pair).

        Both profiles remember the pair in ``suggested_with``, so later events carrying the same
        evidence cost no write, and a dismissed pair is not suggested again.
        """
        at = now_iso()
        actions: list[dict[str, Any]] = []
        for mine, other in ((a, b), (b, a)):
            actions.append({"Put": {"TableName": self.table, "Item": to_item({
                "pk": customer_pk(mine), "sk": f"{SUGGESTION_PREFIX}{other}", "type": "suggestion",
                "customer_id": mine, "other_customer_id": other, "reason": reason,
                "evidence": evidence, "interaction_id": interaction_id, "created_at": at,
            })}})
            actions.append({"Update": {
                "TableName": self.table, "Key": key(customer_pk(mine), PROFILE),
                "UpdateExpression": "ADD suggested_with :o",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":o": {"SS": [other]}},
            }})
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            # One side vanished (merged and re-keyed meanwhile): the suggestion is moot.
            if not cancelled(exc):
                raise

    def get_suggestion(self, customer_id: str, other: str) -> Suggestion | None:
        response = self.client.get_item(
            TableName=self.table, Key=key(customer_pk(customer_id), f"{SUGGESTION_PREFIX}{other}")
        )
        return Suggestion.model_validate(from_item(response["Item"])) if "Item" in response else None

    def delete_suggestion(self, a: str, b: str) -> None:
        for mine, other in ((a, b), (b, a)):
            self.client.delete_item(TableName=self.table, Key=key(customer_pk(mine), f"{SUGGESTION_PREFIX}{other}"))

    # ------------------------------------------------------------------ platform profiles
    # The sender's profile as a platform gave it (Messenger / Instagram user profile), cached on
    # the identity's CLAIM item: ``profile_name``, ``profile_username``, ``profile_fetched_at``, or
    # ``profile_refused_at`` with a short ``profile_refusal`` reason when the platform said no.
    def platform_profile(self, kind: str, value: str) -> dict[str, Any] | None:
        """The ``profile_*`` attributes cached on an identity, or None when nobody claims it yet."""
        response = self.client.get_item(TableName=self.table, Key=key(claim_pk(kind, value), CLAIM))
        if "Item" not in response:
            return None
        return {k: v for k, v in from_item(response["Item"]).items() if k.startswith("profile_")}

    def cache_platform_profile(
        self, kind: str, value: str, *, at: str, name: str | None = None, username: str | None = None,
        refusal: str | None = None,
    ) -> bool:
        """Cache a fetched profile (or, with ``refusal``, the platform's refusal) on an existing claim.

        Never creates a claim: a claim item is written only with its customer, by the identity
        transactions above. False when the identity has no claim yet.
        """
        names = {"#pk": "pk"}
        if refusal is not None:
            # A refusal keeps the last name we had: an old name beats none.
            expression = "SET profile_refused_at = :at, profile_refusal = :why"
            values: dict[str, Any] = {":at": {"S": at}, ":why": {"S": refusal[:100]}}
        else:
            fields = {"profile_name": name, "profile_username": username}
            sets = ["profile_fetched_at = :at"] + [f"{f} = :{f}" for f, v in fields.items() if v]
            removes = ["profile_refused_at", "profile_refusal"] + [f for f, v in fields.items() if not v]
            expression = "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes)
            values = {":at": {"S": at}, **{f":{f}": {"S": v} for f, v in fields.items() if v}}
        return conditionally(lambda: self.client.update_item(
            TableName=self.table, Key=key(claim_pk(kind, value), CLAIM), UpdateExpression=expression,
            ConditionExpression="attribute_exists(#pk)", ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        ))
