"""The learner's interactive terminal: the websocket consumer, the pty sessions and their
manager, the wire protocol and the scrollback ring. Its shell runs in a jail from `jails`; its
kubeconfig comes from the learner environment (sandbox.services)."""
