"""docker-compose.yml says what the services are told; here every setting it passes is checked
against the settings the code really reads, so a misspelt or stale variable (which the
services would silently ignore) fails here instead of in an operator's first deployment.
Where a Docker client with the compose plugin exists, `docker compose config` validates the
file itself as well; the gateway configuration is exercised with real nginx by
test_gateway.py and test_agency_scenario.py."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from kit.settings import Settings
from tests.support.processes import GATEWAY_CONFIG_DIR, REPO_ROOT, SERVICES

pytestmark = pytest.mark.e2e

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves `<<:` merges
    return document


def service_settings(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings
    ]
    assert len(classes) == 1, f"services/{service}/settings.py should define one settings class"
    return classes[0]


def known_variables(service: str | None) -> set[str]:
    """`DESKLINE_<FIELD>` of the kit's settings, plus `DESKLINE_<SERVICE>_<FIELD>` of the
    service's own when the container runs one service (`all` knows every service's)."""
    names = {f"DESKLINE_{field.upper()}" for field in Settings.model_fields}
    names |= {"DESKLINE_MIGRATE_ON_START"}  # read by deploy/entrypoint.sh
    for name in SERVICES if service in (None, "all") else [service]:
        settings = service_settings(name)
        prefix = str(settings.model_config.get("env_prefix", ""))
        names |= {f"{prefix}{field}".upper() for field in settings.model_fields}
    return names


def test_every_deskline_variable_in_compose_is_a_setting_the_code_reads() -> None:
    containers = compose()["services"]
    running = {name: c for name, c in containers.items() if "SERVICE" in c.get("environment", {})}
    assert set(running) >= set(SERVICES), "each service has its own container"
    for name, container in running.items():
        environment: dict[str, Any] = container["environment"]
        service = environment["SERVICE"]
        assert service == "all" or service in SERVICES, f"{name}: SERVICE={service}"
        unknown = {
            variable
            for variable in environment
            if variable.startswith("DESKLINE_") and variable not in known_variables(service)
        }
        assert not unknown, f"{name} is given settings no code reads: {sorted(unknown)}"


def test_each_service_container_is_built_with_its_own_extras_and_has_a_healthcheck() -> None:
    containers = compose()["services"]
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile, "service containers report health (depends_on uses it)"
    for service in SERVICES:
        container = containers[service]
        assert container["build"]["args"]["EXTRAS"] == service
        assert container["environment"]["SERVICE"] == service
        assert container["restart"] == "unless-stopped"
    # All wait for the migration; all but identity for identity's keys (JWKS).
    for service in SERVICES:
        waits_for = containers[service]["depends_on"]
        assert waits_for["migrate"]["condition"] == "service_completed_successfully"
        if service != "identity":
            assert waits_for["identity"]["condition"] == "service_healthy"


def test_the_gateway_reaches_each_service_by_its_compose_name() -> None:
    upstreams = (GATEWAY_CONFIG_DIR / "upstreams.conf").read_text()
    found = dict(re.findall(r"upstream\s+(\w+)\s*\{[^}]*?\bserver\s+([\w.:-]+)", upstreams))
    assert found == {service: f"{service}:8000" for service in SERVICES}
    gateway = compose()["services"]["gateway"]
    assert set(gateway["depends_on"]) == set(SERVICES)


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    probe = (
        subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if docker
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip("no Docker client with the compose plugin here; the checks above still ran")
    result = subprocess.run(
        [docker or "docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
