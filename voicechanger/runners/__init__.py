"""Runners: what a conversion goes through (the lifecycle) and who schedules it: the local
runner, the folder runner, the handoff to a registered runner (Prefect's lives in flows/)."""
