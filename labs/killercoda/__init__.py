"""Killercoda scenarios as kubelab labs: reading their folders and archives safely (``source``),
their ``index.json`` (``scenario``), their Markdown's ``{{exec}}`` and ``{{copy}}`` blocks
(``markdown``), what of a cluster-admin's kubeadm world a learner's namespace can and cannot give
(``environment``), and the lab they become, in the catalog's own layout (``convert``). All pure;
running a corpus on the cluster is ``labs.corpus``."""
