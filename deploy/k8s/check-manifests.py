#!/usr/bin/env python3
"""Checks Kubernetes manifests without a cluster (kubectl's --dry-run=client still needs an API server for its
schema): every document is parsed, and every field is checked against the models of the Kubernetes Python client
(Debian: python3-kubernetes python3-yaml): unknown fields (a typo is silently dropped by kubectl apply), scalars
of the wrong kind, and required fields missing.

Usage: python3 deploy/k8s/check-manifests.py deploy/k8s/*.yaml     (exit 0: no problem found)
"""
import sys

import yaml
import kubernetes.client.models as models


def model_for(api_version, kind):
    """apps/v1 StatefulSet -> V1StatefulSet; policy/v1 PodDisruptionBudget -> V1PodDisruptionBudget."""
    version = api_version.rpartition('/')[2]
    return getattr(models, version.capitalize() + kind)


def check(value, type_name, path, problems):
    if type_name.startswith('list['):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {value!r}")
            return
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]", problems)
    elif type_name.startswith('dict('):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {value!r}")
            return
        inner = type_name[5:-1].split(', ', 1)[1]
        for k, v in value.items():
            check(v, inner, f"{path}.{k}", problems)
    elif type_name == 'str':
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {value!r}")
    elif type_name == 'int':
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer, got {value!r}")
    elif type_name == 'bool':
        if not isinstance(value, bool):
            problems.append(f"{path}: expected true or false, got {value!r}")
    elif type_name in ('object', 'datetime'):
        pass  # IntOrString, quantities, raw extensions: any scalar or map
    else:
        cls = getattr(models, type_name)
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a {type_name} object, got {value!r}")
            return
        python_name = {json: py for py, json in cls.attribute_map.items()}
        for k, v in value.items():
            if k not in python_name:
                problems.append(f"{path}.{k}: no such field in {type_name}")
            else:
                check(v, cls.openapi_types[python_name[k]], f"{path}.{k}", problems)
        try:  # the model's constructor refuses a missing required field
            cls(**{py: value.get(json) for py, json in cls.attribute_map.items()})
        except ValueError as e:
            problems.append(f"{path}: {type_name}: {e}")


def main(files):
    problems, count = [], 0
    for f in files:
        with open(f) as stream:
            for i, doc in enumerate(yaml.safe_load_all(stream)):
                if doc is None:
                    continue
                count += 1
                where = f"{f}#{i} {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
                try:
                    cls = model_for(doc['apiVersion'], doc['kind'])
                except (KeyError, AttributeError):
                    problems.append(f"{where}: unknown apiVersion/kind")
                    continue
                check(doc, cls.__name__, where, problems)
    print(f"{count} documents in {len(files)} files checked, {len(problems)} problems")
    for p in problems:
        print("  " + p)
    return 1 if problems or count == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
