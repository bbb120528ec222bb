"""Prompt templates, one Markdown file per agent (read with importlib.resources)."""
