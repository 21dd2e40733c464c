"""Renderers: Summary -> text. They format; they never compute."""
