"""The consent service's configuration, read once from the environment."""

from __future__ import annotations

from lethe_common.config import CommonConfig, Env, load_common

SERVICE = "consent"


def load_config() -> CommonConfig:
    env = Env()
    config = load_common(SERVICE, env, grpc_port=50052, api_metrics_port=9102,
                         worker_metrics_port=9202)
    env.check()
    return config
