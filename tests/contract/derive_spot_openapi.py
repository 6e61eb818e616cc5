#!/usr/bin/env python3
"""Derives tests/contract/spot-openapi.json from a clone of github.com/spotinst/openapi.

    git clone https://github.com/spotinst/openapi /tmp/openapi
    python3 tests/contract/derive_spot_openapi.py /tmp/openapi/.git <commit> > tests/contract/spot-openapi.json

Reads the YAML files of <commit> with `git show` (no checkout needed; a bare mirror works), and
writes, for each Spot operation greenfleet calls, its method, path, parameters, request body and
response schemas, plus the few named schemas the contract suite's exception list cites. Each schema
is rewritten for a strict checker: every `$ref` inlined, every `allOf` merged (properties merged
recursively, `required` joined), and only the keywords a validator needs kept (type, properties,
required, items, enum, nullable, anyOf, oneOf, additionalProperties, format, readOnly, example).
Titles, descriptions and defaults are dropped. Nothing else is changed: what the definition says,
including where it is wrong, is what the file says. Needs Python 3 with PyYAML.
"""

import json
import posixpath
import subprocess
import sys

import yaml

# (operationId, path file, method) of every Spot operation greenfleet calls.
OPERATIONS = [
    ("elastigroupAwsListElastigroup", "api/services/elastigroup/aws/paths/group.yaml", "get"),
    ("elastigroupAwsStatus", "api/services/elastigroup/aws/paths/status.yaml", "get"),
    ("elastigroupAwsUpdateCapacity", "api/services/elastigroup/aws/paths/capacity.yaml", "put"),
    ("elastigroupAwsDetachInstance", "api/services/elastigroup/aws/paths/detach-instances.yaml", "put"),
    ("elastigroupAwsCreateCodeDeployB_GDeployment", "api/services/elastigroup/aws/paths/blueGreenDeployment.yaml", "post"),
    ("elastigroupAwsGetCodeDeployB_GDeployment", "api/services/elastigroup/aws/paths/blueGreenDeployment.yaml", "get"),
]

# Named schemas the exception list draws on: (name, file, JSON pointer inside it).
SCHEMAS = [
    ("responseWrapper", "api/commons/schemas/responseWrapper.yaml", ""),
    ("errorResponse", "api/commons/schemas/errorResponse.yaml", ""),
    ("elastigroupCreate.group.region", "api/services/elastigroup/aws/schemas/elastigroupCreate.yaml",
     "/properties/group/properties/region"),
    ("elastigroupCreate.group.compute.launchSpecification.tags",
     "api/services/elastigroup/aws/schemas/elastigroupCreate.yaml",
     "/properties/group/properties/compute/properties/launchSpecification/properties/tags"),
    ("elastigroupCreate.group.thirdPartiesIntegration.codeDeploy",
     "api/services/elastigroup/aws/schemas/elastigroupCreate.yaml",
     "/properties/group/properties/thirdPartiesIntegration/properties/codeDeploy"),
    ("items-status-example2", "api/services/elastigroup/aws/schemas/items-status-example2.yaml", ""),
]

class Loader(yaml.SafeLoader):
    """YAML 1.1 without implicit timestamps: examples like 2018-06-25T11:49:00.000Z stay strings."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

KEEP = {"type", "properties", "required", "items", "enum", "nullable", "anyOf", "oneOf",
        "additionalProperties", "format", "readOnly", "example"}


class Definition:
    def __init__(self, git_dir, commit):
        self.git_dir = git_dir
        self.commit = commit
        self.cache = {}

    def load(self, path):
        if path not in self.cache:
            text = subprocess.run(
                ["git", "--git-dir", self.git_dir, "show", f"{self.commit}:{path}"],
                check=True, capture_output=True, text=True,
            ).stdout
            self.cache[path] = yaml.load(text, Loader=Loader)
        return self.cache[path]

    def pointer(self, path, pointer):
        node = self.load(path)
        for part in filter(None, pointer.split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def ref(self, base, ref):
        file, _, pointer = ref.partition("#")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(base), file)) if file else base
        return target, self.pointer(target, pointer)


def merge(a, b):
    """Merges schema b into a (allOf semantics for the subset the checker reads)."""
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and "properties" in out:
            props = dict(out["properties"])
            for name, schema in value.items():
                props[name] = merge(props[name], schema) if name in props else schema
            out["properties"] = props
        elif key == "required" and "required" in out:
            out["required"] = sorted(set(out["required"]) | set(value))
        else:
            out[key] = value
    return out


def normalize(d, base, node):
    """`node` (found in file `base`) with refs inlined, allOf merged and only KEEP keywords."""
    if isinstance(node, list):
        return [normalize(d, base, n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, found = d.ref(base, node["$ref"])
        return normalize(d, target, found)
    out = {}
    for part in node.get("allOf", []):
        out = merge(out, normalize(d, base, part))
    for key, value in node.items():
        if key not in KEEP:
            continue
        if key == "properties":
            value = {name: normalize(d, base, s) for name, s in (value or {}).items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = normalize(d, base, value)
        elif key in ("anyOf", "oneOf"):
            value = [normalize(d, base, s) for s in value]
        out = merge(out, {key: value})
    return out


def operation(d, op_id, path_file, method):
    op = d.load(path_file)[method]
    assert op["operationId"] == op_id, (op["operationId"], op_id)
    spot = d.load("api/spot.yaml")
    paths = [p for p, v in spot["paths"].items() if v.get("$ref", "").endswith(path_file.split("api/")[1])]
    assert len(paths) == 1, (path_file, paths)
    params = []
    for p in op.get("parameters", []):
        if "$ref" in p:
            _, p = d.ref(path_file, p["$ref"])
        params.append({"in": p["in"], "name": p["name"], "required": bool(p.get("required", False)),
                       "schema": normalize(d, path_file, p.get("schema", {}))})
    body = None
    if "requestBody" in op:
        rb = op["requestBody"]
        body = {"required": bool(rb.get("required", False)),
                "schema": normalize(d, path_file, rb["content"]["application/json"]["schema"])}
    responses = {}
    for status, resp in op["responses"].items():
        base = path_file
        if "$ref" in resp:
            base, resp = d.ref(path_file, resp["$ref"])
        content = resp.get("content", {}).get("application/json")
        responses[str(status)] = normalize(d, base, content["schema"]) if content else None
    return {"method": method.upper(), "path": paths[0], "file": path_file, "parameters": params,
            "requestBody": body, "responses": responses}


def main():
    git_dir, commit = sys.argv[1], sys.argv[2]
    full = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", commit],
                          check=True, capture_output=True, text=True).stdout.strip()
    d = Definition(git_dir, full)
    out = {
        "source": {
            "repository": "https://github.com/spotinst/openapi",
            "commit": full,
            "licence": "Apache License 2.0 (copy: tests/contract/LICENSE.spotinst-openapi). Derived from "
                       "spotinst/openapi's files named per operation and schema below.",
            "derivedBy": "tests/contract/derive_spot_openapi.py",
            "changes": "refs inlined, allOf merged, titles/descriptions/defaults dropped; nothing else",
        },
        "operations": {op_id: operation(d, op_id, f, m) for op_id, f, m in OPERATIONS},
        "schemas": {name: dict(normalize(d, f, d.pointer(f, p)), file=f + ("#" + p if p else ""))
                    for name, f, p in SCHEMAS},
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
