"""Platform services with no domain knowledge: every module builds on these."""
