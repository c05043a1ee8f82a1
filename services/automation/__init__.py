"""The automation service: workflow rules, SLAs on business hours, time-based triggers."""
