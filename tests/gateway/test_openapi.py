"""The OpenAPI document describes every API route the app serves."""

import re

from starlette.routing import Mount, Route


def served_operations(routes, prefix=""):
    """(path, method) for every HTTP route, with {param:conv} reduced to {param}."""
    for route in routes:
        if isinstance(route, Mount):
            yield from served_operations(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", prefix + route.path)
            for method in route.methods or ():
                if method != "HEAD":
                    yield path, method.lower()


def expand(path):
    """The vocabulary route stands for four concrete paths."""
    if "{vocabulary}" not in path:
        return [path]
    return [path.replace("{vocabulary}", v)
            for v in ("sources", "languages", "preferences", "interests")]


def test_every_api_route_is_described(client, app):
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    missing = []
    for path, method in served_operations(app.routes):
        if not (path.startswith("/api/") or path == "/healthz"):
            continue
        for concrete in expand(path):
            if method not in doc["paths"].get(concrete, {}):
                missing.append(f"{method.upper()} {concrete}")
    assert missing == []


def test_every_reference_resolves(client):
    doc = client.get("/api/openapi.json").json()
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', str(doc).replace("'", '"')))
    for section, name in refs:
        assert name in doc["components"][section], f"{section}/{name}"
