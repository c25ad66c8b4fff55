"""ASGI entry point for servers started with an import string (several uvicorn workers)."""

from parvis.app import create_app

app = create_app()
