"""``/_emulator/box``: list the box's hosts, or tear them down.

- ``GET /_emulator/box``: the external network's gateway, the bridges and every server
  host (JSON);
- ``DELETE /_emulator/box``: tear every host down (the API keeps answering).
"""

from __future__ import annotations

from ...common import ApiError, Request, Response, json_response
from .box import OpenstackBox


def box_control(box: OpenstackBox, request: Request, parts: list[str]) -> Response:
    """Answer one box control request."""
    if not parts and request.method == "GET":
        return json_response(box.view())
    if not parts and request.method == "DELETE":
        return json_response({"removed": box.stop()})
    raise ApiError(404, f"Unknown box control {request.method} /{'/'.join(parts)}")
