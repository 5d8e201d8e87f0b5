"""Learners' browser terminals: jailed pty sessions whose only way out is the Kubernetes API."""
