"""Checks of a service's data inventory against what its store really holds (issue 14)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator, Mapping
from typing import Any

from pymongo.database import Database

from lethe_common.inventory import Inventory

# Keys that name a person wherever they occur: a stored field of one of these names must be
# declared (itself or a field above it) in its collection's holding.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "phone",
        "street",
        "postcode",
        "city",
        "subject_key",
        "account_id",
        "client_address",
        "password_hash",
        "message",
        "billing_phone",
        "delivery_phone",
        "delivery_note",
        "actor_account_id",
        "closed_by",
        "created_by",
    }
)


def paths(value: Any, prefix: str = "") -> Iterator[str]:
    """The dotted path of every key in a document (lists of documents: the same path)."""
    if isinstance(value, Mapping):
        for name, inner in value.items():
            path = f"{prefix}.{name}" if prefix else str(name)
            yield path
            yield from paths(inner, path)
    elif isinstance(value, list):
        for item in value:
            yield from paths(item, prefix)


def stored_paths(db: Database[Any], collection: str, limit: int = 500) -> set[str]:
    found: set[str] = set()
    for doc in db[collection].find({}, limit=limit):
        found.update(paths(doc))
    return found


def covered(path: str, declared: tuple[str, ...]) -> bool:
    return any(path == field or path.startswith(f"{field}.") for field in declared)


def store_problems(db: Database[Any], inventory: Inventory) -> list[str]:
    """Collections in ``db`` the inventory does not declare, and stored personal keys
    (:data:`PERSONAL_KEYS`) their collection's holding does not declare."""
    names = db.list_collection_names()
    problems = [f"collection {name!r} is not declared" for name in inventory.undeclared(names)]
    for name in sorted(set(names) & inventory.collections()):
        declared = inventory.holding(name).fields
        for path in sorted(stored_paths(db, name)):
            if path.rsplit(".", 1)[-1] in PERSONAL_KEYS and not covered(path, declared):
                problems.append(f"{name}: field {path!r} is not declared")
    return problems


def describe(db: Database[Any]) -> dict[str, list[str]]:
    """Every collection of ``db`` with the paths its documents hold (for a failure message)."""
    return {name: sorted(stored_paths(db, name)) for name in sorted(db.list_collection_names())}


def _collection_key(node: ast.Subscript) -> bool:
    """Whether ``node`` indexes a database: ``db[...]``, ``self.db[...]``, ``self._db[...]``."""
    value = node.value
    return (isinstance(value, ast.Name) and value.id in DB_NAMES) or (
        isinstance(value, ast.Attribute) and value.attr in DB_NAMES
    )


DB_NAMES = frozenset({"db", "_db"})


def code_collections(package: str) -> tuple[dict[str, set[str]], set[str]]:
    """Every collection the modules of ``package`` (and its subpackages) name: each
    ``db[NAME]`` whose key is a string or a module-level string constant, and each
    ``INDEXES`` entry's collection; with where it is named. Second: the ``db[...]``
    expressions whose collection is not a constant (``module: expression``)."""
    found: dict[str, set[str]] = {}
    dynamic: set[str] = set()
    root = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]
    for name in names:
        module = importlib.import_module(name)
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Subscript) and _collection_key(node)):
                continue
            key = node.slice
            value: object = None
            if isinstance(key, ast.Constant):
                value = key.value
            elif isinstance(key, ast.Name):
                value = getattr(module, key.id, None)
            if isinstance(value, str):
                found.setdefault(value, set()).add(f"{name}:{node.lineno}")
            else:
                dynamic.add(f"{name}: {ast.unparse(node)}")
        for spec in getattr(module, "INDEXES", ()):
            found.setdefault(str(spec.collection), set()).add(f"{name}.INDEXES")
    return found, dynamic


def code_problems(package: str, inventory: Inventory, dynamic_ok: Mapping[str, str]) -> list[str]:
    """What is wrong between a service's code and its inventory: a ``db[...]`` the check
    cannot resolve and that ``dynamic_ok`` does not explain, a collection the code names
    that is not declared, a declaration no code (the service's or the library's) uses, and
    a holding that does not say what it holds, why, on which basis and for how long."""
    named, dynamic = code_collections(package)
    library, _ = code_collections("lethe_common")
    problems = [f"collection the check cannot resolve: {expr}" for expr in sorted(dynamic - set(dynamic_ok))]
    problems += [
        f"{name} (named in {sorted(named[name])}) is not declared" for name in inventory.undeclared(named)
    ]
    problems += [
        f"{name} is declared but no code uses it"
        for name in sorted(inventory.collections() - set(named) - set(library))
    ]
    problems += inventory.problems()
    if not inventory.personal():
        problems.append("a service that holds no personal data needs no inventory")
    return problems
