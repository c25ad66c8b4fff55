"""Domain modules: one package per domain, all with the same file names (see docs/architecture.md)."""
