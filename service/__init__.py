"""optadvisor HTTP service: FastAPI app, settings, CLI."""
