#!/usr/bin/env python3
"""Applies a strategic-merge patch to a manifest the way Kubernetes documents it for pod specs
(maps merge key by key, `containers` lists merge by `name`, other lists and scalars are replaced),
for machines without kubectl. smp_apply.py MANIFEST.yaml PATCH.yaml > merged.yaml"""
import sys
import yaml

MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name", "ports": "containerPort"}


def merge(base, patch, key=None):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(base.get(k), v, k) if k in base else v
        return out
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        mk = MERGE_KEYS[key]
        out = [dict(x) for x in base]
        for item in patch:
            for i, x in enumerate(out):
                if x.get(mk) == item.get(mk):
                    out[i] = merge(x, item)
                    break
            else:
                out.append(item)
        return out
    return patch


base = yaml.safe_load(open(sys.argv[1]))
patch = yaml.safe_load(open(sys.argv[2]))
yaml.safe_dump(merge(base, patch), sys.stdout, sort_keys=False)
