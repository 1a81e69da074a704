"""``crisis-sim serve``: the trainee app in a class's browsers, on textual-serve.

textual-serve runs one app process per browser tab and relays the terminal over a websocket; it
has no authentication, no Origin check and no session cap, and its page loads a Google font.
This package adds what a classroom needs around it (``docs/classroom.md``,
``docs/security.md`` section 10):

- ``server``: the web server. It listens on this machine only (127.0.0.1 or ::1) behind the
  academy's HTTPS reverse proxy, takes the trainee from a header the proxy sets (checked as a
  trainee id, and trusted only from a loopback peer), refuses requests from a foreign
  ``Origin``, caps the sessions of the class and of each trainee ("the class is full"), ends
  idle sessions, serves its own page (no inline script, a Content-Security-Policy, the font from
  this server) and keeps every app process in a process group of its own, ended with its tab
  or with the server;
- ``session``: the app process of one tab (``python -m simulator.serve.session``): the app
  under Textual's web driver, signed in as the header's trainee (no sign-in form, nothing
  remembered on the server), ending when its server goes away.

Needs the optional extra ``crisis-sim[serve]`` (textual-serve, which brings aiohttp).
"""

TRAINEE_ENV = "CRISIS_SIM_SERVE_TRAINEE"
"""How the server tells an app process who is signed in."""
PARENT_ENV = "CRISIS_SIM_SERVE_PARENT"
"""The server's pid: an app process whose parent is no longer it ends at once."""
