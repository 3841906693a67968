"""Kubernetes manifests: the base's generator, the rules' sync and the policy checks."""
