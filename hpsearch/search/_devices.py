"""Device slots: which GPUs each worker process of a run may use.

``--gpus 0,1,2,3 --gpus-per-trial 2`` makes two slots, ``["0", "1"]`` and
``["2", "3"]``; worker process j of the run owns slot j for its whole life, so
two trials never share a device: a worker runs one trial at a time. The
worker's environment carries its slot (``CUDA_VISIBLE_DEVICES``,
``HPSEARCH_DEVICES``) and its index (``HPSEARCH_WORKER``, 0..J-1), which a
command program inherits and a Python objective reads (PyTorch and JAX read
``CUDA_VISIBLE_DEVICES`` when they first touch CUDA, so the worker sets it
before any trial runs).

``all`` asks ``nvidia-smi -L`` for the machine's GPUs, as a user would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence

from hpsearch.errors import UserError

WORKER_ENV = "HPSEARCH_WORKER"
DEVICES_ENV = "HPSEARCH_DEVICES"
CUDA_ENV = "CUDA_VISIBLE_DEVICES"
_GPU_LINE = re.compile(r"^GPU (\d+):", re.MULTILINE)
_DEVICE = re.compile(r"^[A-Za-z0-9_.:-]+$")


def parse_gpus(text: str) -> list[str]:
    """``"0,1,2,3"`` -> ["0", "1", "2", "3"]; ``"all"`` -> the GPUs ``nvidia-smi -L`` lists.

    A device is an index or a UUID (``GPU-...``, ``MIG-...``), as
    CUDA_VISIBLE_DEVICES takes them. Repeats and empty items are refused.
    """
    text = text.strip()
    if text == "all":
        return _all_gpus()
    devices = [d.strip() for d in text.split(",")]
    if not text or any(not d or not _DEVICE.match(d) for d in devices):
        raise UserError(f"--gpus: expected a comma list of device indices or UUIDs (e.g. 0,1,2,3) or all, got {text!r}")
    repeated = sorted({d for d in devices if devices.count(d) > 1})
    if repeated:
        raise UserError(f"--gpus: each device once, got {', '.join(repeated)} more than once in {text!r}")
    return devices


def _all_gpus() -> list[str]:
    program = shutil.which("nvidia-smi")
    if program is None:
        raise UserError("--gpus all: expected nvidia-smi on PATH to list the GPUs; name them instead (--gpus 0,1)")
    try:
        done = subprocess.run([program, "-L"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"--gpus all: nvidia-smi -L failed ({exc}); name the GPUs instead (--gpus 0,1)") from None
    found = _GPU_LINE.findall(done.stdout)
    if done.returncode != 0 or not found:
        why = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()[-1]
        raise UserError(f"--gpus all: nvidia-smi -L listed no GPU ({why}); name them instead (--gpus 0,1)")
    return found


def device_slots(devices: Sequence[str], per_trial: int = 1) -> list[list[str]]:
    """The devices in consecutive groups of ``per_trial``: one group per worker process."""
    if per_trial < 1:
        raise UserError(f"--gpus-per-trial: expected a whole number >= 1, got {per_trial}")
    if len(devices) % per_trial:
        raise UserError(
            f"--gpus-per-trial {per_trial}: expected a number of GPUs divisible by it, got {len(devices)} "
            f"({','.join(devices)}); a left-over GPU would sit idle"
        )
    return [list(devices[i : i + per_trial]) for i in range(0, len(devices), per_trial)]


def jobs_for(jobs: int | None, slots: Sequence[Sequence[str]] | None) -> int:
    """``--jobs``: the slot count when GPUs are given and --jobs is not; never more jobs than slots."""
    if not slots:
        return 1 if jobs is None else jobs
    if jobs is None:
        return len(slots)
    if jobs > len(slots):
        raise UserError(
            f"--jobs {jobs}: expected at most {len(slots)} with these GPUs (one device slot per worker process; "
            "two trials must not share a GPU)"
        )
    return jobs


def worker_environment(worker: int, devices: Sequence[str] | None) -> dict[str, str]:
    """The variables a worker process sets for itself and its trials' programs."""
    env = {WORKER_ENV: str(worker)}
    if devices is not None:
        env[CUDA_ENV] = env[DEVICES_ENV] = ",".join(devices)
    return env
