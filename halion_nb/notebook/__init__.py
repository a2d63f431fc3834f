"""The notebook layer: magics, rich display and nbformat files over the Workspace API."""
