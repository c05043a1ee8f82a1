"""Checking custom field values against a type before they are stored (W3).

Values live in `Item.custom_values` as JSON under the field key; everything stored has been
through `validate_custom_values`, so readers (lists, filters, exports) can trust its shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from uuid import UUID

from kit.http.problems import Problem
from services.tickets.types.definition import FieldDef, TypeDefinition, is_empty

TEXT_MAX = 1_000
LONG_TEXT_MAX = 100_000
NUMBER_MAX = 1e15  # beyond this, floats no longer hold whole numbers exactly
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Invalid(ValueError):
    """A value that does not fit its field; the message is shown to the user."""


def validate_custom_values(
    definition: TypeDefinition, values: Mapping[str, Any], *, partial: bool
) -> dict[str, Any]:
    """The values, type-checked and normalised per field; a 422 listing every problem otherwise.

    Pass only the values being written (a request's), not those already stored: keys of
    removed fields are refused like unknown ones. `None` clears a value. With `partial`
    (an update), fields left out keep their value; without it (a creation), every required
    field must be given. A required field can never be cleared.

    Raises `Problem(422, "invalid-custom-fields", errors=[{field, message}])`.
    """
    errors: list[dict[str, str]] = []
    if not isinstance(values, Mapping):
        errors.append({"field": "", "message": "Custom values must be an object keyed by field."})
        raise _invalid(errors)
    clean: dict[str, Any] = {}
    for key, value in values.items():
        field = definition.field(key) if isinstance(key, str) else None
        if field is None:
            errors.append({"field": str(key), "message": "This type has no such field."})
            continue
        if value is None or (is_empty(value) and field.field_type != "checkbox"):
            if field.required:
                errors.append({"field": key, "message": "This field is required."})
            else:
                clean[key] = None
            continue
        try:
            clean[key] = _CHECKS[field.field_type](field, value)
        except Invalid as error:
            errors.append({"field": key, "message": str(error)})
            continue
        if field.required and is_empty(clean[key]):
            errors.append({"field": key, "message": "This field is required."})
    if not partial:
        for field in definition.fields:
            if field.required and field.key not in values:
                errors.append({"field": field.key, "message": "This field is required."})
    if errors:
        raise _invalid(errors)
    return clean


def _invalid(errors: list[dict[str, str]]) -> Problem:
    return Problem(
        422,
        "invalid-custom-fields",
        "Some custom field values are not valid; see `errors`.",
        errors=errors,
    )


def _text(limit: int) -> Callable[[FieldDef, Any], str]:
    def check(_field: FieldDef, value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid("Expected text.")
        if len(value) > limit:
            raise Invalid(f"At most {limit} characters.")
        return value

    return check


def _number(_field: FieldDef, value: Any) -> int | float:
    # bool is an int in Python, never a number here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("Expected a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("Expected a finite number.")
    if abs(value) > NUMBER_MAX:
        raise Invalid(f"At most {NUMBER_MAX:.0e} in size.")
    return value


def _date(_field: FieldDef, value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise Invalid("Expected a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise Invalid("Not a calendar date.") from None


def _single_choice(field: FieldDef, value: Any) -> str:
    if not isinstance(value, str) or value not in field.options:
        raise Invalid(f"Expected one of: {', '.join(field.options)}.")
    return value


def _multi_choice(field: FieldDef, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("Expected a list of options.")
    unknown = [v for v in value if v not in field.options]
    if unknown:
        raise Invalid(f"Not options of this field: {', '.join(unknown)}.")
    chosen = set(value)
    return [option for option in field.options if option in chosen]  # the options' order


def _user(_field: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("Expected a user id.")
    try:
        return str(UUID(value))
    except ValueError:
        raise Invalid("Expected a user id.") from None


def _checkbox(_field: FieldDef, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("Expected true or false.")
    return value


_CHECKS: Mapping[str, Callable[[FieldDef, Any], Any]] = {
    "text": _text(TEXT_MAX),
    "long_text": _text(LONG_TEXT_MAX),
    "number": _number,
    "date": _date,
    "single_choice": _single_choice,
    "multi_choice": _multi_choice,
    "user": _user,
    "checkbox": _checkbox,
}
