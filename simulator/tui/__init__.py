"""The trainee's terminal app (Textual). The only package that imports textual.

Screens and widgets show a Session's events and a Grade; no rule of play lives here.
"""
