"""Models, sessions and the SQL the services run (the foundation layer)."""
