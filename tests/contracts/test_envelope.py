"""The envelope on the wire and the registry that fills and reads it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from pydantic import ValidationError

import contracts
from contracts import (
    Envelope,
    EventData,
    EventRegistry,
    RegistrationError,
    UnknownEventType,
    registry,
)
from contracts.identity import UserCreated, WorkspaceCreated

WORKSPACE = "0192f0c4-5b7e-7cc2-9a51-3c1f0b6e2d10"


class ThingCreated(EventData):
    thing_id: str
    colour: Literal["red", "blue"] = "red"


class SetThingColour(EventData):
    thing_id: str
    colour: Literal["red", "blue"]


def local_registry() -> EventRegistry:
    events = EventRegistry()
    events.event("things.thing.created.v1", source="things", summary="A thing was made.")(
        ThingCreated
    )
    events.event(
        "things.command.set_colour.v1", source="things", summary="Paint a thing.", command=True
    )(SetThingColour)
    return events


def test_envelope_round_trips_through_json() -> None:
    sent = Envelope(
        source="tickets",
        type="ticket.item.created.v1",
        subject="item/42",
        workspace=WORKSPACE,
        correlationid="req-1",
        causationid="evt-0",
        actor="user-7",
        data={"title": "Printer on fire", "tags": ["urgent"]},
    )

    received = Envelope.from_json(sent.to_json())

    assert received == sent
    assert json.loads(sent.to_json())["specversion"] == "1.0"


def test_envelope_defaults_are_a_uuid7_id_and_an_aware_time() -> None:
    envelope = Envelope(source="tickets", type="ticket.item.created.v1")

    assert uuid.UUID(envelope.id).version == 7
    assert envelope.time.tzinfo is not None
    assert envelope.datacontenttype == "application/json"


def test_unknown_envelope_attributes_are_ignored() -> None:
    raw = {
        "id": "e1",
        "source": "tickets",
        "type": "ticket.item.created.v1",
        "specversion": "1.0",
        "time": datetime(2024, 5, 1, tzinfo=UTC).isoformat(),
        "traceparent": "00-abc-def-01",
        "data": {},
    }

    envelope = Envelope.from_json(json.dumps(raw))

    assert envelope.id == "e1"
    assert not hasattr(envelope, "traceparent")


@pytest.mark.parametrize(
    "event_type",
    [
        "ticket.item.created",
        "ticket.item.created.v0",
        "Ticket.item.created.v1",
        "ticket.item-created.v1",
        "created.v1",
        "ticket..created.v1",
        "",
    ],
)
def test_envelope_refuses_malformed_types(event_type: str) -> None:
    with pytest.raises(ValidationError):
        Envelope(source="tickets", type=event_type)


def test_registry_builds_and_parses_a_round_trip() -> None:
    events = local_registry()
    data = ThingCreated(thing_id="t1", colour="blue")

    envelope = events.envelope(data, workspace=WORKSPACE, actor="user-7")
    parsed = events.parse(Envelope.from_json(envelope.to_json()))

    assert envelope.type == "things.thing.created.v1"
    assert envelope.source == "things"
    assert envelope.workspace == WORKSPACE
    assert parsed == data


def test_identity_events_round_trip_through_the_default_registry() -> None:
    workspace_id = uuid.uuid4()
    events: list[EventData] = [
        WorkspaceCreated(
            workspace_id=workspace_id,
            name="Acme",
            slug="acme",
            time_zone="Europe/Paris",
            created_by=uuid.uuid4(),
        ),
        UserCreated(
            user_id=uuid.uuid4(),
            workspace_id=workspace_id,
            email="client@example.com",
            display_name="A Client",
            kind="client",
            client_organisation_id=uuid.uuid4(),
            workspace_role="member",
        ),
    ]
    for data in events:
        envelope = registry.envelope(data, workspace=str(workspace_id))
        assert envelope.source == "identity"
        assert registry.parse(Envelope.from_json(envelope.to_json())) == data


def test_parse_ignores_payload_fields_added_by_a_newer_producer() -> None:
    events = local_registry()
    envelope = Envelope(
        source="things",
        type="things.thing.created.v1",
        data={"thing_id": "t1", "colour": "red", "weight_kg": 3},
    )

    assert events.parse(envelope) == ThingCreated(thing_id="t1")


def test_parse_of_an_unknown_type_names_it() -> None:
    envelope = Envelope(source="things", type="things.thing.melted.v1")

    with pytest.raises(UnknownEventType, match=r"things\.thing\.melted\.v1"):
        local_registry().parse(envelope)


def test_parse_validates_the_payload() -> None:
    envelope = Envelope(source="things", type="things.thing.created.v1", data={"colour": "green"})

    with pytest.raises(ValidationError):
        local_registry().parse(envelope)


def test_parse_as_refuses_the_wrong_model() -> None:
    events = local_registry()
    envelope = events.envelope(ThingCreated(thing_id="t1"))

    assert events.parse_as(envelope, ThingCreated).thing_id == "t1"
    with pytest.raises(TypeError):
        events.parse_as(envelope, SetThingColour)


def test_duplicate_type_is_refused() -> None:
    events = local_registry()

    class OtherThing(EventData):
        name: str

    with pytest.raises(RegistrationError, match="already registered"):
        events.event("things.thing.created.v1", source="things", summary="Again.")(OtherThing)


def test_one_model_cannot_serve_two_types() -> None:
    events = local_registry()

    with pytest.raises(RegistrationError, match="already the payload"):
        events.event("things.thing.created.v2", source="things", summary="Again.")(ThingCreated)


@pytest.mark.parametrize(
    ("event_type", "source", "command"),
    [
        ("things.thing.created", "things", False),
        ("Things.thing.created.v1", "things", False),
        ("things.thing.created.v1", "tickets", False),
        ("things.command.paint.v1", "things", False),
        ("things.thing.painted.v1", "things", True),
    ],
)
def test_malformed_registrations_are_refused(event_type: str, source: str, command: bool) -> None:
    class Payload(EventData):
        pass

    with pytest.raises(RegistrationError):
        EventRegistry().event(event_type, source=source, summary="s", command=command)(Payload)


def test_envelope_takes_type_and_source_from_the_registration() -> None:
    events = local_registry()

    with pytest.raises(TypeError):
        events.envelope(ThingCreated(thing_id="t1"), source="tickets")
    with pytest.raises(TypeError):
        events.envelope(ThingCreated(thing_id="t1"), type="things.thing.created.v2")


def test_a_command_names_its_sender_as_source() -> None:
    events = local_registry()
    command = SetThingColour(thing_id="t1", colour="blue")

    with pytest.raises(TypeError, match="sending service"):
        events.envelope(command)
    envelope = events.envelope(command, source="automation")

    assert envelope.source == "automation"
    assert events.spec(envelope.type).is_command
    assert events.parse(envelope) == command


def test_an_unregistered_payload_cannot_be_wrapped() -> None:
    class Stray(EventData):
        pass

    with pytest.raises(UnknownEventType):
        local_registry().envelope(Stray())


def test_types_are_sorted_and_specs_complete() -> None:
    events = local_registry()

    assert events.types() == ["things.command.set_colour.v1", "things.thing.created.v1"]
    spec = events.spec("things.thing.created.v1")
    assert (spec.source, spec.model, spec.is_command) == ("things", ThingCreated, False)
    assert events.json_schema("things.thing.created.v1")["required"] == ["thing_id"]


def test_importing_contracts_registers_identity_and_needs_no_dev_tools() -> None:
    code = (
        "import sys, contracts; "
        "assert 'identity.user.created.v1' in contracts.registry.types(); "
        "assert 'yaml' not in sys.modules; "
        "assert not any(m == 'kit' or m.startswith(('kit.', 'services')) for m in sys.modules)"
    )
    repo = Path(contracts.__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo)
