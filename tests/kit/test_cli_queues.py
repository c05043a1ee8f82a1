"""`deskline queues`: what an operator reads to know each queue on the broker."""

from __future__ import annotations

from typer.testing import CliRunner

from kit.launcher.cli import app
from kit.launcher.registry import load_modules


def test_every_consumer_queue_is_listed_with_the_events_routed_to_it() -> None:
    result = CliRunner().invoke(app, ["queues"], env={"DESKLINE_NAMESPACE": "acme"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for module in load_modules(None):
        for consumer in module.consumers:
            at = lines.index(f"acme.{module.name}.{consumer.name}")
            routed = [line.strip() for line in lines[at + 1 : at + 1 + len(consumer.patterns)]]
            assert routed == list(consumer.patterns)
    assert "    tickets.comment.added.v1" in lines  # e.g. the mail to followers


def test_an_unknown_service_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["queues", "billing"])
    assert result.exit_code == 2
    assert "unknown service 'billing'" in result.output
