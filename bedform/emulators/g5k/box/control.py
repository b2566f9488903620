"""``/_emulator/box/...``: list the box's hosts, break or repair a node, tear down.

- ``GET /_emulator/box``: the access frontend and every node host (JSON);
- ``POST /_emulator/box/nodes/<fqdn>/break``: its sshd stops, its deployments fail;
- ``POST /_emulator/box/nodes/<fqdn>/repair``: back on the next reconcile;
- ``DELETE /_emulator/box``: tear every host down (the API keeps answering).
"""

from __future__ import annotations

from ...common import ApiError, Request, Response, json_response
from .box import Box


def box_control(box: Box, request: Request, parts: list[str]) -> Response:
    """Answer one box control request."""
    if not parts and request.method == "GET":
        return json_response(box.view())
    if not parts and request.method == "DELETE":
        return json_response({"removed": box.stop()})
    if len(parts) == 3 and parts[0] == "nodes" and request.method == "POST":
        node, action = parts[1], parts[2]
        if node not in box.plan.nodes:
            raise ApiError(404, f"no node {node!r} in the box (use a node FQDN)")
        if action == "break":
            box.break_node(node)
        elif action == "repair":
            box.repair_node(node)
        else:
            raise ApiError(404, f"unknown node action {action!r}: break or repair")
        return json_response(box.view())
    raise ApiError(404, f"Unknown box control {request.method} /{'/'.join(parts)}")
