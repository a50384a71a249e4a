"""The one exception type for mistakes a user can make.

Anything raised as `UserError` is printed by the CLI as a single line and exits with code 2; its
message names the file or field at fault and what was expected. `assert` is kept for our own
invariants, never for user input.
"""


class UserError(Exception):
    """Bad input from the user: a path, a file's contents, a flag value."""


class Interrupted(Exception):
    """A job stopped by a signal after saving what resumes it: the CLI prints the message (how
    to continue) and exits with `code`, 128 + the signal's number."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
