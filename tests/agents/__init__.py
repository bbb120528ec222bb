"""Tests of the agents (prompts → validated models), with scripted LLM clients."""
