"""Tests of the time-tracking service."""
