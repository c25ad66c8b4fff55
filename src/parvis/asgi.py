"""ASGI entry point for servers started with an import string (several uvicorn workers)."""

from parvis.app import create_app, warm_up
from parvis.kernel import heap

app = create_app()
heap.settle()
warm_up(app)
