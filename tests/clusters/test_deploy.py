"""deploy/: the Kubernetes manifests parse and name what docs/clusters.md says; the docs show the files as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "clusters.md").read_text()
K8S = ROOT / "deploy" / "k8s"
SBATCH = ROOT / "deploy" / "slurm" / "hpsearch-array.sbatch"


def manifests(name: str) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all((K8S / name).read_text())}


def container(spec: dict) -> dict:
    (only,) = spec["template"]["spec"]["containers"]
    return only


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c["env"]}


def test_the_docs_show_each_file_as_it_is():
    for path in (K8S / "workers.yaml", K8S / "postgres.yaml", SBATCH):
        assert path.read_text().rstrip() in DOCS, f"docs/clusters.md does not show {path.name} as it is"


def test_workers_are_an_indexed_job_one_gpu_each_storage_from_a_secret():
    job = manifests("workers.yaml")["Job"]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert isinstance(spec["parallelism"], int) and spec["parallelism"] >= 1
    c = container(spec)
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["command"][:2] == ["hpsearch", "run"] and "--jobs" in c["command"]
    ref = env_of(c)["HPSEARCH_STORAGE"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "hpsearch-storage", "key": "url"}
    assert "kubectl create secret generic hpsearch-storage" in DOCS
    assert "password" not in str(c).lower().replace("hpsearch-storage", "")  # no secret in the manifest
    grace = spec["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > 10  # above command.grace's default, as the docs ask


def test_the_database_service_is_the_host_the_docs_url_names():
    found = manifests("postgres.yaml")
    service, db = found["Service"], found["StatefulSet"]
    (port,) = service["spec"]["ports"]
    urls = re.findall(r"postgresql\+psycopg://hpsearch:CHANGE-ME@([\w.-]+):(\d+)/(\w+)", DOCS)
    assert urls, "docs/clusters.md gives the workers' URL"
    for host, number, database in urls:
        assert (host, int(number)) == (service["metadata"]["name"], port["port"])
        assert database == env_of(container(db["spec"]))["POSTGRES_DB"]["value"]
    assert service["spec"]["selector"] == db["spec"]["template"]["metadata"]["labels"]
    password = env_of(container(db["spec"]))["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": "hpsearch-db", "key": "password"}
    assert "kubectl create secret generic hpsearch-db --from-literal=password=" in DOCS


def test_the_sbatch_script_asks_for_what_the_docs_explain():
    directives = [line.split(None, 1)[1] for line in SBATCH.read_text().splitlines() if line.startswith("#SBATCH")]
    assert "--gres=gpu:1" in directives and "--requeue" in directives
    assert any(d.startswith("--signal=B:TERM@") for d in directives) and any(
        d.startswith("--array=") for d in directives
    )
    assert "exec hpsearch run" in SBATCH.read_text()
    for word in ("--requeue", "--signal=B:TERM@120", "KillWait", "command.grace", "Where the database lives"):
        assert word in DOCS
