"""Simulated pods' insides: container environment, volumes, DNS, and the kuard-like demo app.

Runs under the system python (stdlib only) inside a jail where only ``sandbox/__init__.py`` and
this package exist, so nothing here may import Django, ``kubernetes`` or other kubelab packages.
"""
