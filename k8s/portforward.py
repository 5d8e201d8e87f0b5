"""Talking to a pod's port through the API server's port-forward, as a learner (their own RBAC
decides), for the pod pages (sandbox.pod_ports)."""

from __future__ import annotations

from k8s import client
from k8s.errors import ClusterRejected, ClusterUnavailable


def pod_port_exchange(
    *, token: str, namespace: str, pod: str, port: int, request: bytes, limit: int, timeout: float
) -> bytes:
    """Send `request` to a pod's port through the API server's port-forward, authenticated as
    the holder of `token` (so the learner's own RBAC decides), and return what the pod answers
    until it closes the connection, at most `limit` bytes."""
    what = f"forward to port {port} of pod {namespace}/{pod}"
    forward = client.portforward_open(
        token=token, namespace=namespace, pod=pod, port=port, timeout=timeout, what=what
    )
    answer = bytearray()
    broken: OSError | None = None
    try:
        sock = forward.socket(port)
        sock.settimeout(timeout)
        sock.sendall(request)
        while len(answer) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError as exc:
        broken = exc
    finally:
        forward.close()
    # The kubelet's refusal (nothing listens, no such port) arrives on the error channel and
    # then closes the stream, so a send may find the pipe broken: the refusal is the answer.
    if not answer and forward.error(port):
        raise ClusterRejected(f"{what}: {forward.error(port)}", status=502, reason="PortForward")
    if broken is not None:
        raise ClusterUnavailable(f"{what}: {broken.__class__.__name__}") from broken
    return bytes(answer[:limit])
