"""The two kinds of failure the CLI distinguishes by exit code."""


class JudgekitError(Exception):
    """A runtime failure (network, model, engine): the CLI exits 1."""

    exit_code = 1


class BadInput(JudgekitError):
    """Bad usage or bad input: the CLI exits 2 with this one-line message.

    The message names the file, the line or record, and the field.
    """

    exit_code = 2
