"""Glance ``/v2``: the versions document (300), images list and show, the image schema."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ..common import Request, Response, json_response
from .cloud import Cloud
from .keystone import Caller
from .model import CloudError, Image, iso_time

IMAGE_API_VERSIONS = ("2.16", "2.15", "2.9", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1",
                      "2.0")
FILTERS = ("name", "status", "visibility", "owner", "disk_format", "container_format", "id")
SCHEMA_PROPERTIES = {
    "id": {"type": "string"}, "name": {"type": ["null", "string"], "maxLength": 255},
    "status": {"type": "string", "enum": ["queued", "saving", "active", "killed", "deleted",
                                          "uploading", "importing", "pending_delete",
                                          "deactivated"]},
    "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"]},
    "protected": {"type": "boolean"}, "os_hidden": {"type": "boolean"},
    "checksum": {"type": ["null", "string"]}, "os_hash_algo": {"type": ["null", "string"]},
    "os_hash_value": {"type": ["null", "string"]}, "owner": {"type": ["null", "string"]},
    "size": {"type": ["null", "integer"]}, "virtual_size": {"type": ["null", "integer"]},
    "min_ram": {"type": "integer"}, "min_disk": {"type": "integer"},
    "created_at": {"type": "string"}, "updated_at": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "direct_url": {"type": "string"}, "self": {"type": "string"}, "file": {"type": "string"},
    "schema": {"type": "string"},
    "container_format": {"type": ["null", "string"],
                         "enum": [None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker",
                                  "compressed"]},
    "disk_format": {"type": ["null", "string"],
                    "enum": [None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2",
                             "vdi", "iso", "ploop"]},
    "locations": {"type": "array"},
}  # fmt: skip


def glance_not_found(message: str) -> CloudError:
    """Glance's 404 (plain text, as its WSGI layer renders it)."""
    return CloudError(404, f"404 Not Found\n\n{message}\n\n   ")


class Glance:
    """The image service of a :class:`Cloud` (read-only: images come from the seed)."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def versions(self, base_url: str) -> Response:
        """``GET /`` of the image endpoint: 300 Multiple Choices."""
        values = [{"id": f"v{v}", "status": "CURRENT" if i == 0 else "SUPPORTED",
                   "links": [{"rel": "self", "href": f"{base_url}/v2/"}]}
                  for i, v in enumerate(IMAGE_API_VERSIONS)]
        return json_response({"versions": values}, 300)

    def handle(self, request: Request, caller: Caller, parts: list[str]) -> Response:
        """Answer a ``/v2/…`` request (``parts`` after ``v2``)."""
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"405 Method Not Allowed", "text/plain; charset=utf-8",
                            {"Allow": "GET, HEAD"})
        with self.cloud.lock:
            match parts:
                case ["images"]:
                    return self._list(request.query)
                case ["images", image_id]:
                    image = self.cloud.images.get(image_id)
                    if image is None:
                        raise glance_not_found(f"No image found with ID {image_id}")
                    return json_response(image_view(image))
                case ["schemas", "image"]:
                    return json_response(_schema())
                case ["schemas", "images"]:
                    return json_response({"name": "images", "properties": {
                        "images": {"type": "array", "items": _schema()},
                        "schema": {"type": "string"}, "first": {"type": "string"},
                        "next": {"type": "string"}}})
        raise glance_not_found("The resource could not be found.")

    def _list(self, query: Mapping[str, str]) -> Response:
        images = sorted(self.cloud.images.values(), key=lambda i: (-i.created_at, i.id))
        views = [image_view(i) for i in images]
        views = [v for v in views if all(_accepts(query[k], v.get(k)) for k in FILTERS
                                         if k in query)]
        if "marker" in query:
            ids = [v["id"] for v in views]
            if query["marker"] not in ids:
                raise CloudError(400, f"400 Bad Request\n\nmarker {query['marker']} not found."
                                      "\n\n   ")
            views = views[ids.index(query["marker"]) + 1:]
        try:
            limit = int(query.get("limit", 25))
        except ValueError:
            raise CloudError(400, "400 Bad Request\n\nlimit param must be an integer\n\n   ") \
                from None
        page = views[:limit]
        body: dict[str, Any] = {"images": page, "schema": "/v2/schemas/images",
                                "first": "/v2/images"}
        if len(views) > limit and page:
            rest = {k: v for k, v in query.items() if k != "marker"}
            body["next"] = "/v2/images?" + urlencode({**rest, "marker": page[-1]["id"]})
        return json_response(body)


def _accepts(wanted: str, value: Any) -> bool:
    """Glance's filter match: equality, or ``in:a,b`` for a set of values."""
    if wanted.startswith("in:"):
        return str(value) in wanted[3:].split(",")
    return str(value) == wanted


def image_view(image: Image) -> dict[str, Any]:
    """An image as ``GET /v2/images/{id}`` shows it."""
    digest = hashlib.sha512(image.id.encode()).hexdigest()
    stamp = iso_time(image.created_at)
    return {
        "id": image.id, "name": image.name, "status": "active", "visibility": "public",
        "protected": False, "os_hidden": False,
        "checksum": hashlib.md5(image.id.encode(), usedforsecurity=False).hexdigest(),
        "os_hash_algo": "sha512", "os_hash_value": digest, "owner": image.owner,
        "size": image.size, "virtual_size": image.size * 5, "min_ram": image.min_ram,
        "min_disk": image.min_disk, "disk_format": image.disk_format,
        "container_format": image.container_format, "created_at": stamp, "updated_at": stamp,
        "tags": [], "self": f"/v2/images/{image.id}", "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image", "os_distro": image.os_distro,
        "os_version": image.os_version, "os_admin_user": image.os_admin_user,
        "hw_disk_bus": "virtio", "hw_scsi_model": "virtio-scsi",
    }


def _schema() -> dict[str, Any]:
    return {"name": "image", "properties": SCHEMA_PROPERTIES,
            "additionalProperties": {"type": "string"},
            "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                      {"rel": "describedby", "href": "{schema}"}]}
