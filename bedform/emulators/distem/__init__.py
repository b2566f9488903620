"""Distem in a box: the coordinator's REST API (`distemd`) and its containers.

- model.py, app.py, daemon.py: the daemon, standard library only, so that it runs as the
  `distemd` program on the Grid'5000 box's nodes (daemon.install);
- server.py: the same API in this process (`DistemEmulator`) for API-level tests;
- containers.py: the box side, which makes each RUNNING vnode a real SSH host.
"""

from .server import DistemEmulator

__all__ = ["DistemEmulator"]
