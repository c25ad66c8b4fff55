"""ASGI entry point for servers started with an import string (several uvicorn workers)."""

from parvis.app import create_app
from parvis.kernel import heap

app = create_app()
heap.settle()
