"""The channel-layer group every socket of a user joins to follow their access
(kubelab.socket_control sends to it). Apart from socket_control, which reaches into the terminal
app to end shells, so that consumers of lower layers (the namespace picture) can join it."""

from __future__ import annotations


def user_control_group(user_id: int) -> str:
    return f"sockets.user.{user_id}"
