"""The `deskline` command: every service in one process, or one service per process."""
