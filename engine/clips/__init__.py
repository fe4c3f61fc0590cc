"""Clips: the video model families (families.py) and a clip on disk (files.py)."""
