"""A stand-in for the in-cluster runner ray_app.py, run as a real Ray job by the real-Ray tests
and the demo. It evaluates nothing. It does what the action depends on, the way the real one
does it (docs/conformance.md, section "Ray Jobs API", lists what it proves and what it does not):

* argparse with exactly the real runner's flags (types, required, defaults); any other flag,
  an abbreviation included, exits 2 before anything else happens;
* reads --secrets-file (relative to the cwd: the unpacked working_dir package), checks that the
  keys named by BIRD_STANDIN_EXPECT_SECRET_KEYS are there, deletes the file, never prints a value;
* starts one Ray actor, which records the environment it sees (the job's runtime_env env_vars
  must reach actors) and downloads the run's setup prefix runs/<id>/slayer_setup/<artifact>/
  into the artifact's root unless <root>/.download_complete exists (written last, "ok");
* writes runs/<id>/rows/<iid>/attempt-<n>.json and logs/<iid>/attempt-<n>.log per instance and
  heartbeats runs/<id>/status.json (compact JSON) at start, every BIRD_STANDIN_HEARTBEAT_S
  seconds and at the end with terminal_state "done" (or "error");
* records its argv, the secrets check and the actor's view in runs/<id>/standin/attempt-<n>.json.

Environment: BIRD_RUNS_BUCKET (required; STORAGE_EMULATOR_HOST is honoured by the client),
BIRD_STANDIN_OUTCOMES (JSON map iid -> pass | phase1 | fail | error | hang; default: a fixed
function of sha256(iid), like tools/ray-sim/demo-worker.mjs), BIRD_DATA_PATH (JSONL with
instance_id, selected_database), BIRD_STANDIN_EXPECT_SECRET_KEYS (comma list of key names),
BIRD_STANDIN_HEARTBEAT_S (default 30), BIRD_SLAYER_MODELS_ROOT / BIRD_OTF_CACHE_ROOT /
BIRD_SLAYER_MODELS_OTF_ROOT (default /data/<artifact>).
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import threading
import time

FRAMEWORKS = ["claude_sdk", "pydantic_ai", "pydantic_ai_recursive", "pydantic_ai_otf_encode", "mcp_agent", "agno", "smolagents"]
ARTIFACT_ROOT_ENV = {
    "slayer_models": "BIRD_SLAYER_MODELS_ROOT",
    "slayer_otf_cache": "BIRD_OTF_CACHE_ROOT",
    "slayer_models_otf": "BIRD_SLAYER_MODELS_OTF_ROOT",
}


def build_parser():
    # allow_abbrev=False: an abbreviated flag is "another flag" here and is refused.
    p = argparse.ArgumentParser(prog="ray_app.py", allow_abbrev=False)
    p.add_argument("--run-id", required=True)
    p.add_argument("--attempt", type=int, required=True)
    p.add_argument("--ray-job-id", default="unknown")
    p.add_argument("--framework", required=True, choices=FRAMEWORKS)
    p.add_argument("--query-mode", required=True, choices=["raw", "slayer"])
    p.add_argument("--mode", required=True, choices=["a-interact", "c-interact", "oracle"])
    p.add_argument("--agent-model", required=True)
    p.add_argument("--user-sim-model", default="anthropic/claude-haiku-4-5-20251001")
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--max-depth", type=int, default=3)
    p.add_argument("--num-actors", type=int, default=1)
    p.add_argument("--instance-ids", required=True)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--use-audited-gold-sql", action="store_true")
    p.add_argument("--prompt-cache", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--slayer-setup", default="pre-encoded", choices=["pre-encoded", "on-the-fly"])
    p.add_argument("--slayer-storage-root", default="/data/slayer_models")
    p.add_argument("--secrets-file", default=None)
    return p


def artifact_of(args):
    if args.query_mode != "slayer":
        return None
    if args.slayer_setup == "pre-encoded":
        return "slayer_models"
    return "slayer_models_otf" if args.framework == "pydantic_ai_otf_encode" else "slayer_otf_cache"


def outcome_for(iid, scripted):
    if iid in scripted:
        return scripted[iid]
    b = hashlib.sha256(iid.encode("utf-8")).digest()[0] % 10
    return "pass" if b < 5 else "phase1" if b < 7 else "fail" if b < 9 else "error"


def row_fields(outcome):
    if outcome == "pass":
        return dict(phase1_passed=True, phase2_passed=True, total_reward=1.0, error=None, submission_status="submitted")
    if outcome == "phase1":
        return dict(phase1_passed=True, phase2_passed=False, total_reward=0.5, error=None, submission_status="submitted")
    if outcome == "fail":
        return dict(phase1_passed=False, phase2_passed=False, total_reward=0.0, error=None, submission_status="submitted")
    return dict(phase1_passed=False, phase2_passed=False, total_reward=0.0, error="standin: simulated agent error", submission_status="error")


def bucket():
    from google.cloud import storage

    name = os.environ.get("BIRD_RUNS_BUCKET")
    if not name:
        raise SystemExit("ray_app.py (stand-in): BIRD_RUNS_BUCKET is not set")
    return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-test")).bucket(name)


def put(b, name, text, content_type="application/json"):
    b.blob(name).upload_from_string(text, content_type=content_type)


def check_secrets(path):
    """Reads and deletes the secrets file; returns key names only."""
    expected = [k for k in os.environ.get("BIRD_STANDIN_EXPECT_SECRET_KEYS", "").split(",") if k]
    if path is None:
        return {"file": None, "keys": [], "missing": expected, "deleted": False}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise SystemExit("ray_app.py (stand-in): the secrets file is not a JSON object")
    os.remove(path)
    keys = sorted(data)
    missing = [k for k in expected if not data.get(k)]
    return {"file": path, "keys": keys, "missing": missing, "deleted": not os.path.exists(path)}


def main(argv):
    args = build_parser().parse_args(argv)
    secrets = check_secrets(args.secrets_file)
    if secrets["missing"]:
        print(f"ray_app.py (stand-in): secrets file lacks {', '.join(secrets['missing'])}", file=sys.stderr)
        return 3

    if not os.environ.get("BIRD_RUNS_BUCKET"):
        print("ray_app.py (stand-in): BIRD_RUNS_BUCKET is not set", file=sys.stderr)
        return 4
    # A Ray job has RAY_ADDRESS; without it ray.init() would start a new local cluster.
    if not os.environ.get("RAY_ADDRESS"):
        print("ray_app.py (stand-in): RAY_ADDRESS is not set: run it as a Ray job", file=sys.stderr)
        return 4

    import ray

    ray.init(address=os.environ["RAY_ADDRESS"])
    job_env = (ray.get_runtime_context().runtime_env or {}).get("env_vars") or {}
    iids = [i for i in args.instance_ids.split(",") if i]
    scripted = json.loads(os.environ.get("BIRD_STANDIN_OUTCOMES", "{}"))
    dbs = {}
    if os.environ.get("BIRD_DATA_PATH"):
        with open(os.environ["BIRD_DATA_PATH"], encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    dbs[r.get("instance_id")] = r.get("selected_database", "")
    artifact = artifact_of(args)
    run_prefix = f"runs/{args.run_id}"

    @ray.remote(num_cpus=0)
    class Worker:
        def __init__(self, names):
            # Only the job's own env_vars and BIRD_* names: nothing else of the node's env is recorded.
            self.env = {k: v for k, v in os.environ.items() if k in names or k.startswith("BIRD_")}
            self.pid = os.getpid()
            self.bucket = bucket()
            self.setup = None

        def view(self):
            # Which evaluation package this actor imports: a checkout that travels with the job
            # (code: checkout) carries a marker module that no image has.
            try:
                from bird_interact_agents import checkout_marker  # type: ignore[import-not-found]

                marker = getattr(checkout_marker, "MARKER", None)
            except ImportError:
                marker = None
            return {"pid": self.pid, "env": self.env, "cwd": os.getcwd(), "checkout_marker": marker}

        def download_setup(self, artifact):
            root = os.environ.get(ARTIFACT_ROOT_ENV[artifact]) or f"/data/{artifact}"
            marker = os.path.join(root, ".download_complete")
            if os.path.exists(marker):
                return {"artifact": artifact, "root": root, "skipped": True, "files": 0}
            prefix = f"{run_prefix}/slayer_setup/{artifact}/"
            blobs = [b for b in self.bucket.list_blobs(prefix=prefix) if not b.name.endswith("/")]
            if not blobs:
                raise RuntimeError(f"empty setup prefix gs://{self.bucket.name}/{prefix}")
            tmp = f"{root}.partial-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            for b in blobs:
                dest = os.path.join(tmp, b.name[len(prefix):])
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                b.download_to_filename(dest)
            with open(os.path.join(tmp, ".download_complete"), "w", encoding="utf-8") as f:
                f.write("ok")
            shutil.rmtree(root, ignore_errors=True)
            os.makedirs(os.path.dirname(root) or ".", exist_ok=True)
            os.rename(tmp, root)
            return {"artifact": artifact, "root": root, "skipped": False, "files": len(blobs)}

        def run(self, iid, outcome, attempt, database):
            if outcome == "hang":
                while True:
                    time.sleep(3600)
            row = {"instance_id": iid, "database": database, **row_fields(outcome), "attempt": attempt, "standin_outcome": outcome}
            put(self.bucket, f"{run_prefix}/logs/{iid}/attempt-{attempt}.log", f"stand-in {iid}: {outcome}\n", "text/plain")
            put(self.bucket, f"{run_prefix}/rows/{iid}/attempt-{attempt}.json", json.dumps(row))
            return outcome

    b = bucket()
    state = {"done": 0, "terminal": None}
    lock = threading.Lock()

    def heartbeat():
        with lock:
            status = {
                "ray_job_id": args.ray_job_id, "last_heartbeat_ts": time.time(), "rows_done": state["done"],
                "rows_total": len(iids), "terminal_state": state["terminal"], "attempt": args.attempt,
            }
            put(b, f"{run_prefix}/status.json", json.dumps(status, separators=(",", ":")))

    stop = threading.Event()

    def beat():
        period = float(os.environ.get("BIRD_STANDIN_HEARTBEAT_S", "30"))
        while not stop.wait(period):
            heartbeat()

    heartbeat()
    threading.Thread(target=beat, daemon=True).start()
    record = {"argv": list(argv), "cwd": os.getcwd(), "secrets": secrets, "driver_pid": os.getpid(), "job_env_names": sorted(job_env)}
    try:
        worker = Worker.remote(set(job_env))
        record["actor"] = ray.get(worker.view.remote())
        record["setup"] = ray.get(worker.download_setup.remote(artifact)) if artifact else None
        put(b, f"{run_prefix}/standin/attempt-{args.attempt}.json", json.dumps(record, indent=2))
        for iid in iids:
            outcome = outcome_for(iid, scripted)
            ray.get(worker.run.remote(iid, outcome, args.attempt, dbs.get(iid, "")))
            with lock:
                state["done"] += 1
            print(f"stand-in: row {state['done']}/{len(iids)} {iid}: {outcome}", flush=True)
        state["terminal"] = "done"
    except BaseException:
        state["terminal"] = "error"
        record["error"] = True
        put(b, f"{run_prefix}/standin/attempt-{args.attempt}.json", json.dumps(record, indent=2))
        raise
    finally:
        stop.set()
        heartbeat()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
