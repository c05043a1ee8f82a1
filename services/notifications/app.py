"""The notifications service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    return create_service_app(runtime, title="Deskline notifications")
