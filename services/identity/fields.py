"""Field types shared by identity's request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# Deliberately plain: a helpdesk must take any address a mail server delivers to (including
# internal and reserved domains), so only the shape is checked, and case is folded.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
