"""Runs deploy/Dockerfile's build stage as plain commands, without Docker:
the build context is the repository's tracked files less
deploy/Dockerfile.dockerignore, and the pnpm RUN lines are taken from the
Dockerfile itself (so they cannot drift from what is checked), run in
/src-like directory with SERVICE set and /out redirected to a scratch dir.
Then the output must hold dist/server.js and the service's production
dependencies only.

  python3 dockerfile_build.py [service ...]   (default: every service)
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

root = Path(__file__).resolve().parents[2]
SERVICES = sys.argv[1:] or ["platform", "tool-auth", "spawner-broker"]
DEV_ONLY = ["tap", "tsx", "typescript", "eslint", "turbo"]


def build_stage_runs():
    """The build stage's COPY and RUN instructions, continuation lines joined."""
    text = (root / "deploy/Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    steps, stage = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stage = line.split(" AS ")[-1].strip() if " AS " in line else None
        elif stage == "build" and line.startswith(("RUN pnpm", "COPY ")):
            steps.append(line)
    return steps


def context_files():
    ignore = [p.strip() for p in (root / "deploy/Dockerfile.dockerignore").read_text().splitlines()
              if p.strip() and not p.startswith("#")]
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout.decode().split("\0")
    for path in filter(None, tracked):
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.removeprefix("**/")) or
               any(fnmatch.fnmatch(part, pat.removeprefix("**/")) for part in parts)
               for pat in ignore for p in prefixes):
            continue
        if (root / path).is_file():
            yield path


def main():
    steps = build_stage_runs()
    if not any("deploy --prod /out" in s for s in steps):
        print("deploy/Dockerfile: no `pnpm ... deploy --prod /out` in the build stage")
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="ltilaunch-dockerfile-"))
    failures = 0
    try:
        src = scratch / "src"
        src.mkdir()
        files = list(context_files())
        env = {**os.environ, "CI": "true", "TURBO_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"}
        for service in SERVICES:
            out = scratch / f"out-{service}"
            for step in steps:
                if step.startswith("COPY "):
                    args = step.split()[1:]
                    sources = args[:-1]
                    if sources == ["."]:
                        for path in files:
                            (src / path).parent.mkdir(parents=True, exist_ok=True)
                            shutil.copy2(root / path, src / path)
                    else:
                        for path in sources:
                            shutil.copy2(root / path, src / path)
                    continue
                command = step[len("RUN "):].replace("/out", str(out))
                started = time.monotonic()
                result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=src,
                                        env={**env, "SERVICE": service}, capture_output=True, text=True)
                if os.environ.get("VERBOSE"):
                    print(f"  {service}: {command[:60]}... {time.monotonic() - started:.1f}s")
                if result.returncode != 0:
                    print(f"{service}: `{command}` failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
                    failures += 1
                    break
            else:
                problems = []
                if not (out / "dist/server.js").is_file():
                    problems.append("no dist/server.js")
                for dev in DEV_ONLY:
                    if (out / "node_modules" / dev).exists():
                        problems.append(f"holds the dev dependency {dev}")
                if (out / "pnpm-lock.yaml").exists():
                    problems.append("still holds pnpm-lock.yaml")
                if problems:
                    failures += 1
                    print(f"{service}: /out {', '.join(problems)}")
                else:
                    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file() and not f.is_symlink())
                    print(f"ok   {service}: build stage ran as written; /out has dist/server.js, production deps only ({size // 1_000_000} MB)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failures else 0


sys.exit(main())
