"""Prefect flows: ``voice`` (a file or a folder in), its ``convert`` deployment and the serve entrypoint."""
