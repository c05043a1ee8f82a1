"""HTTP conventions every service app shares: problem+json errors, limits, health and metrics."""

from kit.http.app import create_service_app
from kit.http.problems import Problem

__all__ = ["Problem", "create_service_app"]
