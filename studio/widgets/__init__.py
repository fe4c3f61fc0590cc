"""Views: canvas, prompt panel, candidates strip, compare view, queue panel, timeline, export dialog."""
