"""Prefect tasks: one thin wrapper per pipeline stage (see tasks.stages)."""
