"""Import contracts of our own, for import-linter (see pyproject.toml)."""
