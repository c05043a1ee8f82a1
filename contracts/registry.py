"""The registry of event types: which payload model belongs to which `type`, and who produces it.

Producers declare their types here once (by decorating the payload model), so
that publishing, parsing, the JSON-schema snapshots and the AsyncAPI document
all derive from one declaration and cannot drift apart.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from contracts.envelope import EVENT_TYPE_PATTERN, Envelope, EventData

D = TypeVar("D", bound=EventData)

COMMAND_SEGMENT = "command"


class UnknownEventType(LookupError):
    """Raised for a `type` nobody registered: a typo, or a producer newer than this consumer."""

    def __init__(self, event_type: str, reason: str = "no payload model is registered for it"):
        super().__init__(f"unknown event type {event_type!r}: {reason}")
        self.event_type = event_type


class RegistrationError(ValueError):
    """Raised at import time, so a malformed or duplicate declaration never reaches the bus."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """Everything declared about one event type."""

    type: str
    source: str
    """The producer of an event; for a command, the service that executes it."""
    summary: str
    model: builtins.type[EventData]  # `type` alone would mean the field above
    is_command: bool


class EventRegistry:
    """Maps event types to payload models and back.

    The module-level `registry` is the one producers register into; tests build
    their own so they can register throw-away types without polluting it.
    """

    def __init__(self) -> None:
        self._specs: dict[str, EventSpec] = {}
        self._by_model: dict[type[EventData], EventSpec] = {}

    def event(
        self, event_type: str, *, source: str, summary: str, command: bool = False
    ) -> Callable[[type[D]], type[D]]:
        """Class decorator declaring `event_type` with the decorated model as its payload."""

        def register(model: type[D]) -> type[D]:
            self._register(
                EventSpec(
                    type=event_type,
                    source=source,
                    summary=summary,
                    model=model,
                    is_command=command,
                )
            )
            return model

        return register

    def _register(self, spec: EventSpec) -> None:
        _validate(spec)
        if spec.type in self._specs:
            raise RegistrationError(f"event type {spec.type!r} is already registered")
        if spec.model in self._by_model:
            other = self._by_model[spec.model].type
            raise RegistrationError(
                f"{spec.model.__name__} is already the payload of {other!r}; "
                "one model per type keeps `envelope()` unambiguous"
            )
        self._specs[spec.type] = spec
        self._by_model[spec.model] = spec

    def types(self) -> list[str]:
        return sorted(self._specs)

    def spec(self, event_type: str) -> EventSpec:
        try:
            return self._specs[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def model_for(self, event_type: str) -> type[EventData]:
        return self.spec(event_type).model

    def json_schema(self, event_type: str) -> dict[str, Any]:
        """The payload's JSON schema as consumers validate it; what the snapshots freeze."""
        return self.model_for(event_type).model_json_schema()

    def envelope(self, data: EventData, **envelope_attrs: Any) -> Envelope:
        """Wrap a payload in an envelope whose `type` and `source` come from its registration.

        Taking them from the registration rather than the caller means a
        producer cannot publish a payload under the wrong type or name. A
        command is the exception for `source`: its type names the service that
        executes it, while `source` must name the one sending it, so the caller
        passes it.
        """
        spec = self._by_model.get(type(data))
        if spec is None:
            name = type(data).__name__
            raise UnknownEventType(f"<{name}>", f"{name} is not registered as any type's payload")
        from_registration = {"type", "data"} if spec.is_command else {"type", "source", "data"}
        clashing = from_registration & envelope_attrs.keys()
        if clashing:
            raise TypeError(f"{sorted(clashing)} come from the registration, not the caller")
        if spec.is_command and "source" not in envelope_attrs:
            raise TypeError(f"{spec.type!r} is a command: pass the sending service as `source`")
        attrs = envelope_attrs if spec.is_command else {**envelope_attrs, "source": spec.source}
        return Envelope(type=spec.type, data=data.model_dump(mode="json"), **attrs)

    def parse(self, envelope: Envelope) -> EventData:
        """Validate `envelope.data` with the registered model (unknown fields are ignored)."""
        return self.model_for(envelope.type).model_validate(envelope.data)

    def parse_as(self, envelope: Envelope, model: type[D]) -> D:
        """Like `parse`, typed for a consumer that knows which model it subscribed to."""
        expected = self.model_for(envelope.type)
        if expected is not model:
            raise TypeError(f"{envelope.type!r} carries {expected.__name__}, not {model.__name__}")
        return model.model_validate(envelope.data)


def _validate(spec: EventSpec) -> None:
    """Enforce the naming rules of DESIGN.md (Events) at declaration time."""
    if not EVENT_TYPE_PATTERN.match(spec.type):
        raise RegistrationError(
            f"event type {spec.type!r} must be dotted lowercase ending in .vN "
            "(e.g. identity.workspace.created.v1)"
        )
    segments = spec.type.split(".")
    if segments[0] != spec.source:
        raise RegistrationError(
            f"event type {spec.type!r} must start with its producer {spec.source!r}"
        )
    names_command = segments[1] == COMMAND_SEGMENT
    if spec.is_command != names_command:
        raise RegistrationError(
            f"{spec.type!r}: commands, and only commands, are named "
            f"<producer>.{COMMAND_SEGMENT}.<verb>.vN"
        )
    if not (isinstance(spec.model, type) and issubclass(spec.model, EventData)):
        raise RegistrationError(f"the payload of {spec.type!r} must subclass EventData")
    if not spec.summary.strip():
        raise RegistrationError(f"{spec.type!r} needs a summary for the AsyncAPI document")


registry = EventRegistry()
"""The registry every producer module declares its types into."""
