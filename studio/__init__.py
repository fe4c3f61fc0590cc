"""Latent Studio desktop app (PySide6): views and view-models over the Qt-free `engine`."""
