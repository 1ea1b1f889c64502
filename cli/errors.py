"""The one error type subcommands raise for problems the user can fix (printed as one line)."""


class CliError(Exception):
    """A user-facing command-line error: `main` prints its message on one line and exits 2."""
