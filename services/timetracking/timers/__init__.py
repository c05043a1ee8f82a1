"""Running timers: at most one per person, stopped into time entries."""
