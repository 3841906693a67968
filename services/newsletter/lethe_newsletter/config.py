"""The newsletter service's configuration, read once from the environment."""

from __future__ import annotations

from lethe_common.config import CommonConfig, Env, load_common

SERVICE = "newsletter"


def load_config() -> CommonConfig:
    env = Env()
    config = load_common(SERVICE, env, grpc_port=50054, api_metrics_port=9104,
                         worker_metrics_port=9204)
    env.check()
    return config
