"""What every kubelab jail shares: bubblewrap's base arguments and the seccomp filter.

Stdlib only (an import contract says so): the pod builder imports it under the system Python as
the pod's uid, the web server and the grading workers from the virtualenv.
"""
