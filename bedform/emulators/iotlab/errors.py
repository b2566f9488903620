"""The error the IoT-LAB emulator answers as ``{"code": status, "message": message}``."""


class IotlabError(Exception):
    """An API error: HTTP status and the message the client will show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
