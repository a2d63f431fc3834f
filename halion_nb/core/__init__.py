"""Definitions, runtime state and files: no IPython, no widgets."""
