"""Pipelines that walk inputs, run the engine item by item and write outputs."""
