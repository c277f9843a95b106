"""Amazon Connect contact-flow event (``Name: ContactFlowEvent``), the subset we read.

Shape: AWS Lambda developer guide "Using Lambda with Amazon Connect" and Powertools' test event
``connectContactFlowEventAll.json``. Field names are Connect's own (PascalCase).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _ConnectModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class EndpointRef(_ConnectModel):
    Address: str | None = None
    Type: str | None = None


class QueueRef(_ConnectModel):
    Name: str | None = None
    ARN: str | None = None


class ContactDataModel(_ConnectModel):
    ContactId: str
    InitialContactId: str | None = None
    Channel: str | None = None  # VOICE | CHAT | TASK
    InitiationMethod: str | None = None
    InstanceARN: str | None = None
    CustomerEndpoint: EndpointRef | None = None
    SystemEndpoint: EndpointRef | None = None
    Queue: QueueRef | None = None
    Attributes: dict[str, Any] = Field(default_factory=dict)


class DetailsModel(_ConnectModel):
    ContactData: ContactDataModel
    Parameters: dict[str, Any] = Field(default_factory=dict)


class ContactFlowEvent(_ConnectModel):
    Name: str = "ContactFlowEvent"
    Details: DetailsModel

    @property
    def caller(self) -> str | None:
        """The caller's number as Connect gives it (E.164), when the customer is a phone."""
        endpoint = self.Details.ContactData.CustomerEndpoint
        if endpoint is None or not endpoint.Address:
            return None
        if endpoint.Type not in (None, "TELEPHONE_NUMBER"):
            return None
        return endpoint.Address
