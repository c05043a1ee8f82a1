"""The timetracking service: timers, timesheets, rates and capacity reports."""
