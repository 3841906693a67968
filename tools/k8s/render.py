"""Write k8s/base/ (every file but monitoring/prometheusrule.yaml) from one table.

    .venv/bin/python tools/k8s/render.py           # rewrite k8s/base/
    .venv/bin/python tools/k8s/render.py --check   # exit 1 if k8s/base/ differs

The four backends have the same shape (an API and a worker Deployment, their Services,
autoscalers, disruption budgets, network policies, broker user), so they are written from
the table below rather than copied by hand; edit this file, run it, and commit both.
The broker permissions come from ``lethe_common.events.permissions``, the code that the
dev stack's broker set-up uses too. tests/deploy/test_k8s_manifests.py fails on drift.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lethe_common.events.permissions import EVENT_SOURCES, permissions

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "k8s" / "base"
NAMESPACE = "lethe"
DATA_NAMESPACE = "lethe-data"
RABBITMQ_CLUSTER = "lethe-rabbitmq"  # a RabbitmqCluster in lethe-data (k8s/data/)
MONGO_RESOURCE = "lethe-mongo"  # a MongoDBCommunity in lethe-data (k8s/data/)
VHOST = "lethe"
UID = 65532
# SIGTERM handling (docs/architecture.md, lethe_common.grpc_server): the preStop sleep comes
# first, so the pod leaves the Service's endpoints (and the headless Service's DNS answers)
# while it still serves; then SIGTERM makes the API go NOT_SERVING and keep answering for
# LETHE_SHUTDOWN_DRAIN_SECONDS (clients' health checking moves them away), and only then
# refuse new calls and finish those in flight within LETHE_SHUTDOWN_GRACE_SECONDS.
PRESTOP_SECONDS = 5
SHUTDOWN_DRAIN_SECONDS = 5
SHUTDOWN_GRACE_SECONDS = 20
API_TERMINATION_SECONDS = PRESTOP_SECONDS + SHUTDOWN_DRAIN_SECONDS + SHUTDOWN_GRACE_SECONDS + 10
# The ingress controller's pod network: the only peer whose X-Forwarded-For the gateway
# believes (LETHE_GATEWAY_TRUSTED_PROXIES). A placeholder: patch it to your cluster's.
INGRESS_PROXY_CIDR = "10.0.0.0/8"
# The worker joins each thread for up to the grace in turn; unacked messages return to the
# queue anyway, so a kill at the end loses nothing.
WORKER_TERMINATION_SECONDS = 60
GATEWAY_PORT = 8080
GATEWAY_METRICS_PORT = 9105
GATEWAY_TERMINATION_SECONDS = PRESTOP_SECONDS + 5 + 10  # uvicorn's timeout_graceful_shutdown is 5
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
# Placeholders an overlay replaces (k8s/README.md): TEST-NET addresses reach nothing.
SMTP_CIDR = "192.0.2.25/32"
PARTNER_CIDR = "192.0.2.0/24"


@dataclass(frozen=True)
class Backend:
    name: str
    grpc_port: int
    api_metrics_port: int
    worker_metrics_port: int
    calls: tuple[str, ...] = ()  # the backends whose APIs it calls
    mails: bool = False
    partners: bool = False  # the payment provider and the supplier (HTTPS)
    config: dict[str, str] = field(default_factory=dict)
    secrets: tuple[tuple[str, str, str, bool], ...] = ()  # env, secret, key, optional
    api_memory: str = "512Mi"


SHOP_DOWNLOADS = "/var/lib/lethe/downloads"
BACKENDS = (
    Backend(
        "identity",
        50051,
        9101,
        9201,
        mails=True,
        secrets=(
            ("IDENTITY_ADMIN_EMAILS", "identity-app", "admin-emails", True),
            ("IDENTITY_STAFF_SIGNING_KEY", "identity-app", "staff-signing-key", False),
        ),
        # argon2id at 19 MiB a hash, up to 16 gRPC threads at once.
        api_memory="768Mi",
    ),
    Backend(
        "consent",
        50052,
        9102,
        9202,
        calls=("identity", "shop", "newsletter", "analytics"),
        mails=True,
    ),
    Backend(
        "shop",
        50053,
        9103,
        9203,
        partners=True,
        config={
            "SHOP_DOWNLOADS_DIR": SHOP_DOWNLOADS,
            "SHOP_PAYMENT_URL": "https://payments.example.invalid",
            "SHOP_SUPPLIER_URL": "https://supplier.example.invalid",
        },
        secrets=(
            ("SHOP_PAYMENT_API_KEY", "shop-app", "payment-api-key", False),
            ("SHOP_PAYMENT_WEBHOOK_SECRET", "shop-app", "payment-webhook-secret", False),
            ("SHOP_SUPPLIER_API_KEY", "shop-app", "supplier-api-key", False),
            ("SHOP_DOWNLOAD_LINK_SECRET", "shop-app", "download-link-secret", True),
        ),
    ),
    Backend(
        "newsletter",
        50054,
        9104,
        9204,
        calls=("consent",),
        mails=True,
        secrets=(("NEWSLETTER_LINK_SECRET", "newsletter-app", "link-secret", True),),
    ),
    # The web analytics: counts per page and day, and page views only with consent.
    Backend("analytics", 50056, 9106, 9206, api_memory="256Mi"),
)
PORTS = {b.name: b.grpc_port for b in BACKENDS}


def grpc_addr(name: str) -> str:
    """A headless Service as a gRPC ``dns:///`` target: every ready API pod, round-robin
    with client-side health checking (lethe_common/grpc_client.py)."""
    return f"dns:///{name}-api.{NAMESPACE}.svc.cluster.local:{PORTS[name]}"


def labels(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}


def meta(name: str, lbls: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if lbls:
        out["labels"] = dict(lbls)
    out.update(extra)
    return out


CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": UID,
    "runAsGroup": UID,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": UID,
    "runAsGroup": UID,
    "fsGroup": UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def http_probe(path: str, port: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def secret_env(env: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": env, "valueFrom": {"secretKeyRef": ref}}


def pod_template(
    name: str,
    component: str,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    termination: int,
) -> dict[str, Any]:
    lbls = labels(name, component)
    return {
        "metadata": {"labels": lbls},
        "spec": {
            "serviceAccountName": name,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": termination,
            "securityContext": POD_SECURITY,
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": lbls},
                }
            ],
            "containers": [container],
            "volumes": volumes,
        },
    }


def deployment(name: str, component: str, replicas: int, template: dict[str, Any]) -> dict[str, Any]:
    lbls = labels(name, component)
    workload = name if component == "gateway" else f"{name}-{component}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(workload, lbls),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": lbls},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": template,
        },
    }


def tmp_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir of its own
    )


def backend_env(b: Backend) -> list[dict[str, Any]]:
    env = [
        secret_env("LETHE_MONGO_URL", f"{b.name}-mongo", "connectionString.standard"),
        secret_env("LETHE_AMQP_URL", f"{b.name}-amqp", "url"),
        secret_env("LETHE_SUBJECT_PEPPER", "lethe-subject-pepper", "pepper"),
        secret_env("LETHE_STAFF_VERIFY_KEY", "lethe-staff-verify-key", "verify-key"),
    ]
    env += [secret_env(*s) for s in b.secrets]
    return env


def backend_container(b: Backend, process: str) -> dict[str, Any]:
    mounts = [tmp_volume()[1]]
    if b.name == "shop":
        mounts.append({"name": "downloads", "mountPath": SHOP_DOWNLOADS})
    container: dict[str, Any] = {
        "name": process,
        "image": f"lethe-{b.name}",
        "imagePullPolicy": "IfNotPresent",
        # args, not command: the image's entrypoint (tini) stays and forwards SIGTERM.
        "args": [f"lethe-{b.name}-{process}"],
        "envFrom": [
            {"configMapRef": {"name": "lethe-common"}},
            {"configMapRef": {"name": f"{b.name}-config"}},
        ],
        "env": backend_env(b),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": mounts,
    }
    if process == "api":
        container |= {
            "ports": [
                {"name": "grpc", "containerPort": b.grpc_port, "protocol": "TCP"},
                {"name": "metrics", "containerPort": b.api_metrics_port, "protocol": "TCP"},
            ],
            # NOT_SERVING until the indexes are in place and the store and the bus answer.
            "startupProbe": {"grpc": {"port": b.grpc_port}, "periodSeconds": 2, "failureThreshold": 60},
            "readinessProbe": {
                "grpc": {"port": b.grpc_port},
                "periodSeconds": 5,
                "timeoutSeconds": 2,
                "failureThreshold": 2,
            },
            # The process answers; an outage of the store or the bus is readiness's business.
            "livenessProbe": http_probe("/healthz", "metrics", 10, 3),
            "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
            "resources": resources("100m", "192Mi", "1", b.api_memory),
        }
    else:
        container |= {
            "ports": [{"name": "metrics", "containerPort": b.worker_metrics_port, "protocol": "TCP"}],
            "startupProbe": http_probe("/readyz", "metrics", 2, 90),
            "readinessProbe": http_probe("/readyz", "metrics", 10, 3),
            "livenessProbe": http_probe("/healthz", "metrics", 10, 3),
            "resources": resources("50m", "160Mi", "500m", "384Mi"),
        }
    return container


def backend_volumes(b: Backend) -> list[dict[str, Any]]:
    volumes = [tmp_volume()[0]]
    if b.name == "shop":
        # The dev overlay keeps this emptyDir (the catalogue's seed writes its files);
        # the prod overlay puts the shop-downloads claim in its place.
        volumes.append({"name": "downloads", "emptyDir": {"sizeLimit": "1Gi"}})
    return volumes


def hpa(name: str, target: str, low: int, high: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(target),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def pdb(name: str, component: str, workload: str) -> dict[str, Any]:
    # maxUnavailable rather than minAvailable: a node drain is never blocked at one replica.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(workload),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(name, component)}},
    }


def service_account(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(name, {"app.kubernetes.io/name": name}),
        "automountServiceAccountToken": False,
    }


def tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def pods(name: str, component: str | None = None) -> dict[str, Any]:
    match = {"app.kubernetes.io/name": name}
    if component:
        match["app.kubernetes.io/component"] = component
    return {"podSelector": {"matchLabels": match}}


def in_namespace(namespace: str, pod_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": pod_labels},
    }


PROMETHEUS = in_namespace(MONITORING_NAMESPACE, {"app.kubernetes.io/name": "prometheus"})
RABBITMQ_PODS = in_namespace(DATA_NAMESPACE, {"app.kubernetes.io/name": RABBITMQ_CLUSTER})
MONGO_PODS = in_namespace(DATA_NAMESPACE, {"app": f"{MONGO_RESOURCE}-svc"})


def policy(name: str, selector: dict[str, Any], ingress: Any = None, egress: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": selector, "policyTypes": []}
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name),
        "spec": spec,
    }


def callers(name: str) -> list[dict[str, Any]]:
    peers = [pods("gateway", "gateway")]
    peers += [pods(b.name) for b in BACKENDS if name in b.calls]
    return peers


def backend_policies(b: Backend) -> list[dict[str, Any]]:
    egress: list[dict[str, Any]] = [
        {"to": [MONGO_PODS], "ports": [tcp(27017)]},
        {"to": [RABBITMQ_PODS], "ports": [tcp(5672)]},
    ]
    egress += [{"to": [pods(other, "api")], "ports": [tcp(PORTS[other])]} for other in b.calls]
    if b.mails:
        egress.append({"to": [{"ipBlock": {"cidr": SMTP_CIDR}}], "ports": [tcp(25)]})
    if b.partners:
        egress.append({"to": [{"ipBlock": {"cidr": PARTNER_CIDR}}], "ports": [tcp(443)]})
    return [
        policy(
            f"{b.name}-api",
            pods(b.name, "api")["podSelector"],
            ingress=[
                {"from": callers(b.name), "ports": [tcp(b.grpc_port)]},
                {"from": [PROMETHEUS], "ports": [tcp(b.api_metrics_port)]},
            ],
        ),
        policy(
            f"{b.name}-worker",
            pods(b.name, "worker")["podSelector"],
            ingress=[{"from": [PROMETHEUS], "ports": [tcp(b.worker_metrics_port)]}],
        ),
        policy(f"{b.name}-egress", pods(b.name)["podSelector"], egress=egress),
    ]


def configmap_literals(b: Backend) -> list[str]:
    upper = b.name.upper()
    values = {
        f"{upper}_GRPC_PORT": str(b.grpc_port),
        f"{upper}_API_METRICS_PORT": str(b.api_metrics_port),
        f"{upper}_WORKER_METRICS_PORT": str(b.worker_metrics_port),
        f"{upper}_MONGO_DB": f"lethe_{b.name}",
        **{f"{other.upper()}_GRPC_ADDR": grpc_addr(other) for other in b.calls},
        **b.config,
    }
    return [f"{k}={v}" for k, v in values.items()]


def backend_documents(b: Backend) -> dict[str, list[dict[str, Any]]]:
    api, worker = f"{b.name}-api", f"{b.name}-worker"
    grants = permissions(b.name)
    api_docs = [
        service_account(b.name),
        deployment(
            b.name,
            "api",
            2,
            pod_template(
                b.name, "api", backend_container(b, "api"), backend_volumes(b), API_TERMINATION_SECONDS
            ),
        ),
        {
            # Headless: the gateway resolves every ready pod and balances calls itself.
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(api, labels(b.name, "api")),
            "spec": {
                "clusterIP": "None",
                "selector": labels(b.name, "api"),
                "ports": [{"name": "grpc", "port": b.grpc_port, "targetPort": "grpc", "appProtocol": "grpc"}],
            },
        },
        hpa(b.name, api, 2, 8),
        pdb(b.name, "api", api),
    ]
    worker_docs = [
        deployment(
            b.name,
            "worker",
            1,
            pod_template(
                b.name,
                "worker",
                backend_container(b, "worker"),
                backend_volumes(b),
                WORKER_TERMINATION_SECONDS,
            ),
        ),
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": meta(worker),
            "spec": {"secretTargetRef": [{"parameter": "host", "name": f"{b.name}-amqp", "key": "url"}]},
        },
        {
            # Never below one: the worker also runs the outbox relay and the sweeps.
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": meta(worker),
            "spec": {
                "scaleTargetRef": {"name": worker},
                "minReplicaCount": 1,
                "maxReplicaCount": 6,
                "pollingInterval": 15,
                "cooldownPeriod": 300,
                "triggers": [
                    {
                        "type": "rabbitmq",
                        "metadata": {
                            "protocol": "amqp",
                            "queueName": f"{b.name}.inbox",
                            "mode": "QueueLength",
                            "value": "200",
                        },
                        "authenticationRef": {"name": worker},
                    }
                ],
            },
        },
        pdb(b.name, "worker", worker),
    ]
    reference = {"name": RABBITMQ_CLUSTER, "namespace": DATA_NAMESPACE}
    bus_docs = [
        {
            # The topology operator creates the user from the username and password keys of
            # <svc>-amqp (whose url key the processes and KEDA read).
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "User",
            "metadata": meta(b.name),
            "spec": {
                "rabbitmqClusterReference": reference,
                "importCredentialsSecret": {"name": f"{b.name}-amqp"},
            },
        },
        {
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "Permission",
            "metadata": meta(b.name),
            "spec": {
                "vhost": VHOST,
                "userReference": {"name": b.name},
                "permissions": grants.as_dict(),
                "rabbitmqClusterReference": reference,
            },
        },
    ]
    return {
        "api.yaml": api_docs,
        "worker.yaml": worker_docs,
        "network.yaml": backend_policies(b),
        "bus.yaml": bus_docs,
    }


def gateway_documents() -> dict[str, list[dict[str, Any]]]:
    tmp_volume_, tmp_mount = tmp_volume()
    container = {
        "name": "gateway",
        "image": "lethe-gateway",
        "imagePullPolicy": "IfNotPresent",
        "args": ["lethe-gateway"],
        "envFrom": [{"configMapRef": {"name": "lethe-common"}}, {"configMapRef": {"name": "gateway-config"}}],
        "ports": [
            {"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": GATEWAY_METRICS_PORT, "protocol": "TCP"},
        ],
        "startupProbe": http_probe("/healthz", "http", 2, 30),
        # Ready only while every backend is SERVING (lethe_gateway.app).
        "readinessProbe": http_probe("/readyz", "http", 5, 2),
        "livenessProbe": http_probe("/healthz", "http", 10, 3),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
        "resources": resources("100m", "192Mi", "1", "512Mi"),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [tmp_mount],
    }
    lbls = labels("gateway", "gateway")
    main = [
        service_account("gateway"),
        deployment(
            "gateway",
            "gateway",
            2,
            pod_template("gateway", "gateway", container, [tmp_volume_], GATEWAY_TERMINATION_SECONDS),
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("gateway", lbls),
            "spec": {
                "selector": lbls,
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "appProtocol": "http"}],
            },
        },
        hpa("gateway", "gateway", 2, 10),
        pdb("gateway", "gateway", "gateway"),
    ]
    ingress = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta(
                "gateway",
                lbls,
                annotations={
                    "cert-manager.io/cluster-issuer": "letsencrypt",
                    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
                    "nginx.ingress.kubernetes.io/proxy-body-size": "16m",
                },
            ),
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["lethe.example.invalid"], "secretName": "lethe-tls"}],
                "rules": [
                    {
                        "host": "lethe.example.invalid",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "gateway", "port": {"name": "http"}}},
                                }
                            ]
                        },
                    }
                ],
            },
        }
    ]
    network = [
        policy(
            "gateway",
            {"matchLabels": lbls},
            ingress=[
                {
                    "from": [in_namespace(INGRESS_NAMESPACE, {"app.kubernetes.io/name": "ingress-nginx"})],
                    "ports": [tcp(GATEWAY_PORT)],
                },
                {"from": [PROMETHEUS], "ports": [tcp(GATEWAY_METRICS_PORT)]},
            ],
            egress=[{"to": [pods(b.name, "api")], "ports": [tcp(b.grpc_port)]} for b in BACKENDS],
        )
    ]
    return {"gateway.yaml": main, "ingress.yaml": ingress, "network.yaml": network}


def common_documents() -> dict[str, list[dict[str, Any]]]:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(
            NAMESPACE,
            {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "v1.30",
            },
        ),
    }
    network = [
        policy("default-deny", {}, ingress=[], egress=[]),
        policy(
            "dns",
            {},
            egress=[
                {
                    "to": [in_namespace("kube-system", {"k8s-app": "kube-dns"})],
                    "ports": [{"protocol": "UDP", "port": 53}, tcp(53)],
                }
            ],
        ),
    ]
    reference = {"name": RABBITMQ_CLUSTER, "namespace": DATA_NAMESPACE}
    bus = [
        {
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "Vhost",
            "metadata": meta(VHOST),
            "spec": {"name": VHOST, "rabbitmqClusterReference": reference},
        },
        # Every <source>.events exchange exists before any service starts: a consumer only
        # checks the exchanges it binds from (a passive declare), it may not declare them.
        *(
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "Exchange",
                "metadata": meta(f"{source}-events"),
                "spec": {
                    "name": f"{source}.events",
                    "vhost": VHOST,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "rabbitmqClusterReference": reference,
                },
            }
            for source in EVENT_SOURCES
        ),
    ]
    monitor = [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": meta("lethe", {"app.kubernetes.io/part-of": "lethe"}),
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/part-of": "lethe"}},
                "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
            },
        }
    ]
    return {
        "namespace.yaml": [namespace],
        "network.yaml": network,
        "bus.yaml": bus,
        "podmonitor.yaml": monitor,
    }


def kustomization(files: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    common = [
        "LETHE_BIND_HOST=0.0.0.0",
        "LETHE_LOG_LEVEL=INFO",
        "LETHE_PUBLIC_URL=https://lethe.example.invalid",
        "LETHE_QUEUE_TYPE=quorum",
        f"LETHE_SHUTDOWN_GRACE_SECONDS={SHUTDOWN_GRACE_SECONDS}",
        f"LETHE_SHUTDOWN_DRAIN_SECONDS={SHUTDOWN_DRAIN_SECONDS}",
        "LETHE_SMTP_HOST=smtp.example.invalid",
        "LETHE_SMTP_PORT=25",
        "LETHE_MAIL_FROM=Lethe <no-reply@lethe.example.invalid>",
        "PYTHONDONTWRITEBYTECODE=1",
    ]
    generators = [{"name": "lethe-common", "literals": common}]
    generators += [{"name": f"{b.name}-config", "literals": configmap_literals(b)} for b in BACKENDS]
    gateway = [
        "LETHE_GATEWAY_HOST=0.0.0.0",
        f"LETHE_GATEWAY_PORT={GATEWAY_PORT}",
        f"GATEWAY_METRICS_PORT={GATEWAY_METRICS_PORT}",
        # Behind the ingress the scheme the gateway sees is http: say that cookies are Secure.
        "LETHE_GATEWAY_COOKIE_SECURE=true",
        f"LETHE_GATEWAY_TRUSTED_PROXIES={INGRESS_PROXY_CIDR}",
        # The payment provider's hosted card page the checkout links to (a placeholder).
        "LETHE_GATEWAY_PAYMENT_PAGE_URL=https://payments.example.invalid",
        *(f"{b.name.upper()}_GRPC_ADDR={grpc_addr(b.name)}" for b in BACKENDS),
    ]
    generators.append({"name": "gateway-config", "literals": gateway})
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "labels": [
            {
                "pairs": {"app.kubernetes.io/part-of": "lethe"},
                "includeSelectors": False,
                "includeTemplates": True,
            }
        ],
        "resources": [f"{folder}/{name}" for folder, docs in files.items() for name in docs]
        + ["monitoring/prometheusrule.yaml"],
        "configMapGenerator": generators,
    }


HEADER = "# Written by tools/k8s/render.py: edit that, run it, commit both.\n"


def dump(documents: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(yaml.safe_dump(d, sort_keys=False, width=120) for d in documents)


def render() -> dict[Path, str]:
    files: dict[str, dict[str, list[dict[str, Any]]]] = {"common": common_documents()}
    files |= {b.name: backend_documents(b) for b in BACKENDS}
    files["gateway"] = gateway_documents()
    monitor = files["common"].pop("podmonitor.yaml")
    files["monitoring"] = {"podmonitor.yaml": monitor}
    out = {
        BASE / folder / name: dump(docs) for folder, named in files.items() for name, docs in named.items()
    }
    out[BASE / "kustomization.yaml"] = HEADER + yaml.safe_dump(
        kustomization(files), sort_keys=False, width=120
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="write k8s/base/ from tools/k8s/render.py")
    parser.add_argument("--check", action="store_true", help="only say whether k8s/base/ is up to date")
    args = parser.parse_args()
    stale = []
    for path, text in render().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if args.check and stale:
        print(
            "k8s/base/ is out of date, run tools/k8s/render.py:", *(str(p.relative_to(ROOT)) for p in stale)
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
