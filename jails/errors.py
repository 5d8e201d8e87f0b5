"""The one error a jail raises when it cannot start (pure)."""


class JailError(Exception):
    """A jail could not be started; the message says what to do next (it is shown to learners
    as it is: a missing tool, no free uid, no seccomp filter)."""
