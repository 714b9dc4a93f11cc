"""A model of the Python submitter's upload, as a whole process: google-cloud-storage, one DB directory after
another, each with a pool of 32 threads calling Blob.upload_from_filename per file (the client's defaults: one
multipart request up to 8 MiB, a resumable upload above that).

python tools/bench/python_submitter.py --root DIR --bucket B --prefix P [--threads 32]   (STORAGE_EMULATOR_HOST)
"""
import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage


def db_files(root, db):
    base = os.path.join(root, db)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path, os.path.relpath(path, base).replace(os.sep, "/")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--threads", type=int, default=32)
    a = p.parse_args()
    # Against an emulator the client needs no credentials; on GCS it would use the runner's ADC.
    emulated = bool(os.environ.get("STORAGE_EMULATOR_HOST"))
    client = storage.Client(project="demo-test", credentials=AnonymousCredentials() if emulated else None)
    bucket = client.bucket(a.bucket)
    files = 0
    size = 0
    dbs = sorted(d for d in os.listdir(a.root) if not d.startswith("_") and os.path.isdir(os.path.join(a.root, d)))
    for db in dbs:
        todo = list(db_files(a.root, db))
        with ThreadPoolExecutor(max_workers=a.threads) as ex:
            for _ in ex.map(lambda t: bucket.blob(f"{a.prefix}/{db}/{t[1]}").upload_from_filename(t[0]), todo):
                pass
        files += len(todo)
        size += sum(os.path.getsize(t[0]) for t in todo)
    print(json.dumps({"files": files, "bytes": size}))


if __name__ == "__main__":
    main()
