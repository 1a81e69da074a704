"""Screens of the trainee app, each in its own module."""
