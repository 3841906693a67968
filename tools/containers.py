"""Lethe in real containers: build every image, run docker-compose.yml, smoke-test it.

    containers.py test       all of it: daemon, base, images, up, smoke, down -v (make test-containers)
    containers.py build      the local base (once) and every image, timed, with their sizes
    containers.py up         build, then `docker-compose up -d` with a generated env file; stays up
    containers.py smoke      the smoke scenario against a stack that `up` started
    containers.py down       `docker-compose down -v`, then stop the Docker daemon we started

No registry is reachable here, so images build on a local Debian base made by
deploy/base/make-base.sh (``BASE=lethe-base:bookworm``); production builds use the
Dockerfile's default base. When ``DOCKER_HOST`` is not set, this script starts its own
``dockerd`` (data under var/docker/, its socket there) and stops it by its pid file; it
never looks for a process by name. The compose project gets its own name and free host
ports, so it never meets a ``make up`` or another checkout's stack.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack

ROOT = stack.ROOT
STATE = ROOT / "var" / "containers"
DOCKER_DIR = ROOT / "var" / "docker"
PIDS = STATE / "run"
BASE_IMAGE = "lethe-base:bookworm"
SERVICES = ("identity", "consent", "shop", "newsletter", "analytics", "gateway")
BACKENDS = SERVICES[:-1]
PROJECT = "lethe-containers"
# Each image and the compose service whose `build:` makes it (the others reuse the image).
IMAGE_BUILT_BY = {
    **{f"lethe-{name}": f"{name}-api" for name in SERVICES[:-1]},
    "lethe-gateway": "gateway",
    "lethe-devtools": "smtp",
    "lethe-ferretdb": "store",
    "lethe-rabbitmq": "rabbitmq",
    "lethe-prometheus": "prometheus",
}
SECRETS = (
    "LETHE_SUBJECT_PEPPER",
    "RABBITMQ_ADMIN_PASSWORD",
    *(f"LETHE_AMQP_PASSWORD_{name.upper()}" for name in BACKENDS),
    "SHOP_PAYMENT_API_KEY",
    "SHOP_PAYMENT_WEBHOOK_SECRET",
    "SHOP_SUPPLIER_API_KEY",
    "IDENTITY_STAFF_SIGNING_KEY",
)
PASSWORD = "a long passphrase for the smoke test"  # noqa: S105 - a throwaway test account
CLERK = "clerk@containers.example"  # IDENTITY_ADMIN_EMAILS of the compose project


def say(message: str) -> None:
    print(f"\033[1m[containers]\033[0m {message}", flush=True)


def docker_bin() -> str:
    """Debian's docker client first: it matches Debian's dockerd that we start."""
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


# -- the daemon ------------------------------------------------------------------
def docker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DOCKER_HOST", f"unix://{DOCKER_DIR / 'docker.sock'}")
    return env


def daemon_answers(env: dict[str, str]) -> bool:
    done = subprocess.run([docker_bin(), "info"], env=env, capture_output=True, timeout=30)
    return done.returncode == 0


def start_daemon() -> dict[str, str]:
    """Use ``DOCKER_HOST`` when the caller set it; otherwise start our own dockerd."""
    env = docker_env()
    if "DOCKER_HOST" in os.environ or daemon_answers(env):
        if not daemon_answers(env):
            raise SystemExit(f"no Docker daemon answers at {env['DOCKER_HOST']}")
        return env
    DOCKER_DIR.mkdir(parents=True, exist_ok=True)
    exec_root = Path(tempfile.gettempdir()) / f"lethe-docker-{stack.checkout_stack_name(ROOT)}"
    log = open(DOCKER_DIR / "dockerd.log", "ab")  # noqa: SIM115 - the daemon keeps it
    daemon = subprocess.Popen(
        [
            "dockerd",
            f"--data-root={DOCKER_DIR / 'data'}",
            f"--exec-root={exec_root}",
            f"--pidfile={DOCKER_DIR / 'dockerd.pid'}",
            f"--host={env['DOCKER_HOST']}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    stack.write_pid(PIDS, "dockerd", daemon.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"dockerd exited with {daemon.returncode}; see var/docker/dockerd.log")
        if daemon_answers(env):
            say(f"dockerd started (pid {daemon.pid}, {env['DOCKER_HOST']})")
            return env
        time.sleep(0.5)
    raise SystemExit("dockerd did not answer within 60 s; see var/docker/dockerd.log")


def stop_daemon() -> None:
    """Stop the dockerd this script started (by its pid file), with what it runs."""
    if (PIDS / "dockerd.pid").exists():
        stack.stop_pidfiles([PIDS / "dockerd.pid"], timeout=60)


# -- images ------------------------------------------------------------------------
def run(argv: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, text=True, capture_output=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def image_exists(env: dict[str, str], image: str) -> bool:
    return (
        subprocess.run([docker_bin(), "image", "inspect", image], env=env, capture_output=True).returncode
        == 0
    )


def build_images(env: dict[str, str], rebuild_base: bool = False) -> dict[str, float]:
    """Every image the compose file runs, on the local base; seconds per image."""
    seconds: dict[str, float] = {}
    started = time.monotonic()
    if rebuild_base or not image_exists(env, BASE_IMAGE):
        say("making the local base image (debootstrap, about a minute)")
        run([str(ROOT / "deploy" / "base" / "make-base.sh"), BASE_IMAGE], {**env, "DOCKER": docker_bin()})
        seconds["base"] = time.monotonic() - started
    ferretdb = ROOT / "var" / "build" / "images" / "ferretdb"
    ferretdb.mkdir(parents=True, exist_ok=True)
    clock = time.monotonic()
    run(
        [str(ROOT / "tools" / "ferretdb" / "build.sh"), str(ferretdb / "lethe-ferretdb")],
        {**env, "CGO_ENABLED": "0"},
    )
    seconds["ferretdb binary"] = time.monotonic() - clock
    local_base = {**env, "LETHE_BASE_IMAGE": BASE_IMAGE, "LETHE_DEBIAN_IMAGE": BASE_IMAGE}
    for image, service in IMAGE_BUILT_BY.items():
        clock = time.monotonic()
        say(f"building {image} (docker-compose build {service})")
        compose(local_base, "build", "-q", service)
        seconds[image] = time.monotonic() - clock
    return seconds


def image_report(env: dict[str, str]) -> list[tuple[str, int, str]]:
    """(image, size in bytes, user) of every image we built."""
    report = []
    for image in IMAGE_BUILT_BY:
        raw = run([docker_bin(), "image", "inspect", image], env).stdout
        info = json.loads(raw)[0]
        report.append((image, int(info["Size"]), str(info["Config"].get("User") or "root")))
    return report


# -- the compose stack -----------------------------------------------------------
def compose_env_file() -> Path:
    """The compose project's secrets and host ports, made once (var/, never committed)."""
    path = STATE / "compose.env"
    if not path.exists():
        STATE.mkdir(parents=True, exist_ok=True)
        taken: set[int] = set()
        made = {name: secrets.token_hex(32) for name in SECRETS}
        lines = [f"{name}={value}" for name, value in made.items()]
        lines.append(f"LETHE_STAFF_VERIFY_KEY={stack.staff_verify_key(made['IDENTITY_STAFF_SIGNING_KEY'])}")
        lines += [
            "RABBITMQ_ADMIN_USER=admin",
            f"IDENTITY_ADMIN_EMAILS={CLERK}",
            f"LETHE_GATEWAY_PUBLISH=127.0.0.1:{(gateway := stack.free_port(taken))}",
            f"LETHE_PUBLIC_URL=http://127.0.0.1:{gateway}",
            f"LETHE_PAYMENT_PUBLISH=127.0.0.1:{stack.free_port(taken)}",
            f"LETHE_PROMETHEUS_PUBLISH=127.0.0.1:{stack.free_port(taken)}",
            "LETHE_GATEWAY_COOKIE_SECURE=false",
        ]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    _add_missing_secrets(path)
    return path


def _add_missing_secrets(path: Path) -> None:
    """A file made before a secret was added to SECRETS gets it (and the staff verify key)."""
    held = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    added = {name: secrets.token_hex(32) for name in SECRETS if not held.get(name)}
    signing = added.get("IDENTITY_STAFF_SIGNING_KEY") or held.get("IDENTITY_STAFF_SIGNING_KEY", "")
    if "IDENTITY_STAFF_SIGNING_KEY" in added or not held.get("LETHE_STAFF_VERIFY_KEY"):
        added["LETHE_STAFF_VERIFY_KEY"] = stack.staff_verify_key(signing)
    if added:
        with path.open("a") as out:
            out.writelines(f"{name}={value}\n" for name, value in added.items())


def compose(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [
        "docker-compose",
        "-p",
        PROJECT,
        "--env-file",
        str(compose_env_file()),
        "-f",
        str(ROOT / "docker-compose.yml"),
        *args,
    ]
    if check:
        return run(argv, env, cwd=ROOT)
    return subprocess.run(argv, env=env, text=True, capture_output=True, cwd=ROOT)


def container_states(env: dict[str, str]) -> dict[str, tuple[str, str, int]]:
    """service -> (state, health, exit code) of every container of the project."""
    ids = compose(env, "ps", "-a", "-q").stdout.split()
    if not ids:
        return {}
    states = {}
    for info in json.loads(run([docker_bin(), "inspect", *ids], env).stdout):
        service = info["Config"]["Labels"]["com.docker.compose.service"]
        state = info["State"]
        states[service] = (state["Status"], state.get("Health", {}).get("Status", ""), int(state["ExitCode"]))
    return states


def wait_healthy(env: dict[str, str], timeout: float = 300) -> float:
    """Wait until every long-running container is healthy and broker-setup exited 0."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        states = container_states(env)
        failed = {s: v for s, v in states.items() if v[0] == "exited" and v[2] != 0}
        if failed:
            raise SystemExit(f"containers failed: {failed}\n{recent_logs(env)}")
        waiting = {
            s: v
            for s, v in states.items()
            if not (v[1] == "healthy" or (s == "broker-setup" and v[0] == "exited"))
        }
        if states and not waiting:
            return time.monotonic() - started
        time.sleep(2)
    raise SystemExit(f"not healthy after {timeout:.0f} s: {waiting}\n{recent_logs(env)}")


def recent_logs(env: dict[str, str]) -> str:
    return compose(env, "logs", "--tail=40", check=False).stdout[-6000:]


def published(name: str) -> str:
    values = stack.read_dotenv(compose_env_file())
    return f"http://{values[name]}"


# -- the smoke scenario ------------------------------------------------------------
@contextmanager
def copied_maildir(env: dict[str, str]) -> Iterator[Callable[[], Path]]:
    """A function that copies the SMTP sink's Maildir out of its container, fresh each call."""
    folder = Path(tempfile.mkdtemp(prefix="lethe-mail-"))
    container = compose(env, "ps", "-q", "smtp").stdout.strip()

    def fetch() -> Path:
        shutil.rmtree(folder / "maildir", ignore_errors=True)
        run([docker_bin(), "cp", f"{container}:/var/lib/mail/maildir", str(folder)], env)
        return folder / "maildir"

    try:
        yield fetch
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"smoke: {what} did not happen within {timeout:.0f} s")


def signed_in(gateway: str, maildir: Callable[[], Path], email: str, name: str) -> Any:
    """A browser logged in as ``email``: registered and verified first, unless it was."""
    from lethe_testing.maildir import mails_in, token_in
    from lethe_testing.web import Browser

    browser = Browser(gateway)
    logged_in = browser.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    if logged_in.status_code == 200:  # registered by an earlier run
        return browser
    registered = browser.post(
        "/api/v1/accounts",
        json={
            "email": email,
            "password": PASSWORD,
            "name": name,
            "account_consent_version": browser.current_version("account"),
        },
    )
    assert registered.status_code == 201, registered.text  # 201 for a taken address too (issue 18)
    mail = wait_for("the verification mail", lambda: mails_in(maildir(), email, "verification"))
    verified = browser.post(
        "/api/v1/accounts/verify", json={"token": token_in(mail[0]), "password": PASSWORD}
    )
    assert verified.status_code == 200, verified.text
    logged_in = browser.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert logged_in.status_code == 200, logged_in.text
    return browser


def paid_order(browser: Any, payment: str) -> str:
    import httpx

    product = next(p for p in browser.get("/api/v1/products").json() if p["kind"] == "physical")
    token = httpx.post(
        f"{payment}/v1/tokens",
        json={"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
    )
    assert token.status_code == 201, token.text
    address = {
        "name": "Ada Lovelace",
        "street": "Hauptstraße 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    placed = browser.post(
        "/api/v1/orders",
        json={
            "lines": [{"product_id": product["id"], "quantity": 1}],
            "billing": address,
            "delivery": address,
            "payment_token": token.json()["id"],
        },
        headers={"Idempotency-Key": f"smoke-{uuid.uuid4().hex}"},
    )
    assert placed.status_code == 201, placed.text
    order_id = str(placed.json()["id"])
    wait_for(
        "the payment",
        lambda: browser.get(f"/api/v1/orders/{order_id}").json()["payment"]["status"] == "succeeded",
    )
    return order_id


def smoke(env: dict[str, str]) -> dict[str, float]:
    """Register, verify, log in, order and pay, have staff deliver the order, then erase:
    every service's receipt must arrive and the proof of erasure must pass."""
    import httpx

    from lethe_testing.web import Browser

    gateway, payment = published("LETHE_GATEWAY_PUBLISH"), published("LETHE_PAYMENT_PUBLISH")
    email = f"smoke-{uuid.uuid4().hex[:10]}@example.com"
    timings: dict[str, float] = {}
    with copied_maildir(env) as maildir:
        clock = time.monotonic()
        browser = signed_in(gateway, maildir, email, "Ada Lovelace")
        timings["sign-up"] = time.monotonic() - clock
        say("smoke: registered, verified, logged in")

        clock = time.monotonic()
        order_id = paid_order(browser, payment)
        timings["order paid"] = time.monotonic() - clock
        clerk = signed_in(gateway, maildir, CLERK, "Charles Babbage")  # the proof would find a shared name
        for status in ("shipped", "delivered", "completed"):
            moved = clerk.post(f"/api/v1/admin/orders/{order_id}/status", json={"status": status})
            assert moved.status_code == 200, moved.text
        say("smoke: ordered, paid, delivered by staff")

        clock = time.monotonic()
        opened = browser.post("/api/v1/me/erasure", json={})
        assert opened.status_code == 202, opened.text
        request_id, follow = opened.json()["request"]["id"], opened.json()["follow_token"]

        def proven() -> dict[str, Any] | None:
            reply = httpx.get(f"{gateway}/api/v1/privacy-requests/{request_id}", params={"token": follow})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            return body if body["status"] == "complete" and body.get("verification") else None

        done = wait_for("the erasure and its proof", proven, timeout=120)
        services = sorted(r["service"] for r in done["receipts"])
        assert services == sorted(BACKENDS), services
        proof = done["verification"]
        assert proof["outcome"] == "passed" and proof["documents_searched"] > 0, proof
        timings["erasure proven"] = time.monotonic() - clock
        say(
            f"smoke: erasure complete with receipts from {', '.join(services)}; proof passed "
            f"({proof['documents_searched']} documents searched)"
        )
        gone = Browser(gateway).post("/api/v1/session", json={"email": email, "password": PASSWORD})
        assert gone.status_code == 401, gone.text
    return timings


def monitoring_checks() -> str:
    """Prometheus scrapes every process (all targets up) with the rules loaded, and the
    gateway's public port does not serve /metrics."""
    import httpx

    prometheus, gateway = published("LETHE_PROMETHEUS_PUBLISH"), published("LETHE_GATEWAY_PUBLISH")
    assert httpx.get(f"{gateway}/metrics").status_code == 404, "the public port serves /metrics"

    def all_up() -> list[dict[str, Any]] | None:
        targets = httpx.get(f"{prometheus}/api/v1/targets").json()["data"]["activeTargets"]
        return targets if len(targets) == 11 and all(t["health"] == "up" for t in targets) else None

    targets = wait_for("every Prometheus target to be up", all_up, timeout=60)
    groups = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
    rules = sum(len(g["rules"]) for g in groups)
    assert rules > 0, "no alert rules loaded"
    return f"{len(targets)} targets up, {rules} rules loaded; /metrics not on the public port"


def access_log_checks(env: dict[str, str]) -> str:
    """The gateway wrote access log lines, and every client address in them is truncated."""
    shown = compose(env, "exec", "-T", "gateway", "sh", "-c", "cat /var/lib/lethe/access/access-*.log").stdout
    lines = [json.loads(line) for line in shown.splitlines() if line.strip()]
    assert lines, "the gateway wrote no access log line"
    whole = [line["client"] for line in lines if line["client"] and not str(line["client"]).endswith(".0")]
    assert not whole, f"untruncated client addresses in the access log: {len(whole)}"
    return f"{len(lines)} access log lines, every client address truncated"


def users_of_running(env: dict[str, str]) -> dict[str, str]:
    """service -> the uid its process runs as (from `id -u` inside it)."""
    users = {}
    for service, (state, _, _) in container_states(env).items():
        if state == "running":
            users[service] = compose(env, "exec", "-T", service, "id", "-u").stdout.strip()
    return users


# -- commands ----------------------------------------------------------------------
def cmd_build(env: dict[str, str], rebuild_base: bool) -> None:
    for image, seconds in build_images(env, rebuild_base).items():
        print(f"  build {image:<20} {seconds:6.1f} s")
    for image, size, user in image_report(env):
        print(f"  image {image:<20} {size / 1e6:7.1f} MB  user {user}")


def cmd_up(env: dict[str, str]) -> float:
    clock = time.monotonic()
    compose(env, "up", "-d")
    healthy = wait_healthy(env)
    say(f"every container healthy {time.monotonic() - clock:.1f} s after `docker-compose up -d`")
    say(f"gateway {published('LETHE_GATEWAY_PUBLISH')}  prometheus {published('LETHE_PROMETHEUS_PUBLISH')}")
    return healthy


def cmd_down(env: dict[str, str]) -> None:
    if daemon_answers(env):
        compose(env, "down", "-v", "--remove-orphans", check=False)
    stop_daemon()


def cmd_test(env: dict[str, str], rebuild_base: bool) -> int:
    try:
        cmd_build(env, rebuild_base)
        cmd_up(env)
        users = users_of_running(env)
        print("  uid of each running container: " + ", ".join(f"{s}={u}" for s, u in sorted(users.items())))
        rooted = sorted(s for s, u in users.items() if u == "0")
        if rooted:
            raise SystemExit(f"containers running as root: {', '.join(rooted)}")
        for step, seconds in smoke(env).items():
            print(f"  smoke {step:<18} {seconds:6.1f} s")
        say(f"monitoring: {monitoring_checks()}")
        say(f"access log: {access_log_checks(env)}")
        return 0
    finally:
        cmd_down(env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=["test", "build", "up", "smoke", "down"])
    parser.add_argument("--rebuild-base", action="store_true", help="make the local base image again")
    args = parser.parse_args()
    if args.command == "down":
        cmd_down(docker_env())
        return 0
    env = start_daemon()
    clock = time.monotonic()
    if args.command == "test":
        code = cmd_test(env, args.rebuild_base)
        say(f"build, start, smoke and stop took {time.monotonic() - clock:.0f} s")
        return code
    if args.command == "build":
        cmd_build(env, args.rebuild_base)
    elif args.command == "up":
        cmd_build(env, args.rebuild_base)
        cmd_up(env)
    else:
        smoke(env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
