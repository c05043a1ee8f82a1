"""Topic matching must agree with RabbitMQ's (the bus contract suite checks the broker itself)."""

import pytest

from kit.bus.topic import matches


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.b.c", "a.b", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.b.c", False),
        ("a.*", "a", False),
        ("a.#", "a", True),
        ("a.#", "a.b.c.d", True),
        ("#.v1", "tickets.item.created.v1", True),
        ("#.v1", "tickets.item.created.v2", False),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.b.c", False),
        ("#", "anything.at.all", True),
        ("*.*", "a.b", True),
        ("*.*", "a.b.c", False),
        ("#.#", "a", True),
    ],
)
def test_topic_matching(pattern: str, key: str, expected: bool) -> None:
    assert matches(pattern, key) is expected
