"""The one error of `bedform.machines`: a command or a system call on this machine failed."""

from __future__ import annotations


class MachineError(RuntimeError):
    """A host operation failed; `hint` says what ran and how to fix it.

    Callers above this layer turn it into their own error (a provider's ProviderError).
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message
