"""The shop service's configuration, read once from the environment."""

from __future__ import annotations

from lethe_common.config import CommonConfig, Env, load_common

SERVICE = "shop"


def load_config() -> CommonConfig:
    env = Env()
    config = load_common(SERVICE, env, grpc_port=50053, api_metrics_port=9103,
                         worker_metrics_port=9203)
    env.check()
    return config
