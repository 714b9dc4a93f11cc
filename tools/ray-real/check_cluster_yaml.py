"""Ray's own offline check of cluster YAMLs, as `ray up` runs it before touching a cloud:
PyYAML's safe_load, then the autoscaler's prepare_config (defaults of the provider's
defaults.yaml merged in, setup commands merged, the docker section checked, per-node-type
min/max workers filled) and validate_config (the JSON schema ray-schema.json and the
head-node-type and worker-count rules). The GCP provider's bootstrap (credentials, IAM, the
project's network) is not run: it needs a GCP project.

usage: python check_cluster_yaml.py FILE...   prints one JSON line per file, exits 1 if any fails
"""

import json
import sys

import yaml
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.autoscaler._private.providers import _NODE_PROVIDERS


def check(path):
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f.read())
        if not isinstance(config, dict):
            raise ValueError(f"Config {config!r} is not a dictionary")
        provider = config.get("provider", {}).get("type")
        if provider not in _NODE_PROVIDERS:
            raise NotImplementedError(f"Unsupported provider {config.get('provider')}")
        prepared = prepare_config(config)
        validate_config(prepared)
        node_types = prepared.get("available_node_types", {})
        return {
            "file": path,
            "ok": True,
            "cluster_name": prepared.get("cluster_name"),
            "max_workers": prepared.get("max_workers"),
            "node_types": {k: {"min_workers": v.get("min_workers"), "max_workers": v.get("max_workers")} for k, v in node_types.items()},
        }
    except Exception as e:  # report every failure as data; the caller decides
        return {"file": path, "ok": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}


def main(paths):
    results = [check(p) for p in paths]
    for r in results:
        print(json.dumps(r))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
