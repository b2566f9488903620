"""Reading ``multipart/form-data`` bodies (experiment submissions, flashes)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser


class MultipartError(ValueError):
    """A body that is not a readable multipart form."""


def parse_form(content_type: str | None, body: bytes) -> dict[str, bytes]:
    """Form field name → raw content (file parts and plain fields alike)."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise MultipartError(
            f"expected a multipart/form-data body, got Content-Type {content_type!r}"
        )
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise MultipartError("the multipart body has no parts (bad boundary?)")
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise MultipartError("a multipart part has no name in its Content-Disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = payload if isinstance(payload, bytes) else b""
    return fields
