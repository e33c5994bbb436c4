"""Promises about the project itself: layout and imports, docs, packaging, fixture use."""
