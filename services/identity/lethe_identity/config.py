"""The identity service's configuration, read once from the environment."""

from __future__ import annotations

from lethe_common.config import CommonConfig, Env, load_common

SERVICE = "identity"


def load_config() -> CommonConfig:
    env = Env()
    config = load_common(SERVICE, env, grpc_port=50051, api_metrics_port=9101,
                         worker_metrics_port=9201)
    env.check()
    return config
