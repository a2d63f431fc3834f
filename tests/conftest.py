pytest_plugins = ["halion_nb.testing.pytest_plugin"]
