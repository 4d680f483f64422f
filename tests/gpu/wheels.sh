#!/usr/bin/env bash
# Download, HERE (a machine that reaches PyPI), the wheels the lent GPU machine lacks, into tests/gpu/wheels/
# (git-ignored). check.sh installs them there offline: `pip install --no-index --no-deps --target /tmp/site`.
#
#     bash tests/gpu/wheels.sh            # download (skips wheels already there), then verify the set
#     bash tests/gpu/wheels.sh --verify   # verify only
#
# The GPU machine: Python 3.12, manylinux x86_64, no network, with torch 2.11 + CUDA, torchvision, numpy,
# scipy, matplotlib, pandas, scikit-learn, joblib, pillow, pytest, tqdm, attrs, packaging, psutil, pygments,
# python-dateutil, six, typing-extensions, jinja2, markupsafe, coverage, ... but no Jupyter stack.
# The pins below are the closure of nbclient, ipykernel, ipywidgets, pytorch-fid and nbval for
# Python 3.12 on linux (resolved with `pip install --dry-run --report` for that platform), minus what that
# machine already has. Keep ONE version of each: two stop the whole install.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=tests/gpu/wheels

PINS=(
  # what the notebooks and ganhelpers import
  pytorch-fid==0.3.0         # notebook 09 and metrics.fid_scores; deps torch, torchvision, scipy, pillow: there
  ipywidgets==8.1.9 widgetsnbextension==4.0.16 jupyterlab_widgets==3.0.17 comm==0.2.3
  # running a notebook: nbclient -> jupyter_client -> a kernel (ipykernel)
  nbclient==0.11.0 nbformat==5.11.1 nbval==0.11.0
  jupyter_client==8.10.0 jupyter_core==5.9.1 platformdirs==4.14.9
  pyzmq==27.3.0 tornado==6.6.1 traitlets==5.16.1
  ipykernel==7.4.0 debugpy==1.8.22 matplotlib-inline==0.2.2 nest-asyncio2==1.7.4
  ipython==9.18.1 ipython_pygments_lexers==1.1.1 jedi==0.20.1 parso==0.8.7
  pexpect==4.9.0 ptyprocess==0.7.0 prompt_toolkit==3.0.53 wcwidth==0.9.4
  stack_data==0.6.3 executing==2.3.0 asttokens==3.0.2 pure_eval==0.2.4
  # nbformat's validation
  fastjsonschema==2.22.3 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0
  rpds-py==2026.9.1
)
# present on the GPU machine (its image's package list, device tool's KINDS.md): not carried, but a wheel's
# requirement on one of them counts as met by the verification below
GPU_HAS="attrs certifi coverage jinja2 joblib markupsafe matplotlib numpy packaging pandas pillow pluggy psutil
pygments pytest python-dateutil pyyaml requests rich scikit-learn scipy setuptools six threadpoolctl torch
torchvision tqdm typing-extensions urllib3 iniconfig tzdata"

# what the project asks for; everything else in PINS must be needed by one of these (or by a carried wheel)
ROOTS="pytorch-fid ipywidgets nbclient nbformat nbval ipykernel jupyter_client"

if [ "${1:-}" != "--verify" ]; then
  mkdir -p "$dest"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
    -d "$dest" "${PINS[@]}"
fi

# verify: one wheel per pin and nothing else; every non-extra requirement of every wheel (markers evaluated for
# CPython 3.12 on linux) is met by a carried wheel of a matching version or by a package of the GPU machine
PINS_TEXT="${PINS[*]}" GPU_HAS="$GPU_HAS" ROOTS="$ROOTS" python3 - "$dest" <<'EOF'
import os, re, sys, zipfile
from pathlib import Path
from email.parser import Parser

try:
    from packaging.requirements import Requirement
    from packaging.version import Version
except ImportError:  # pip vendors packaging
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.version import Version

norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
ROOTS = [norm(n) for n in os.environ["ROOTS"].split()]
dest = Path(sys.argv[1])
pins = dict(p.split("==") for p in os.environ["PINS_TEXT"].split())
pins = {norm(k): v for k, v in pins.items()}
gpu_has = {norm(n) for n in os.environ["GPU_HAS"].split()}
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
wheels, problems = {}, []
for whl in sorted(dest.glob("*.whl")):
    with zipfile.ZipFile(whl) as z:
        meta = Parser().parsestr(z.read(next(n for n in z.namelist()
                                             if n.endswith(".dist-info/METADATA"))).decode())
    name = norm(meta["Name"])
    if name in wheels:
        problems.append(f"two wheels of {name}: {wheels[name][1].name} and {whl.name}")
    wheels[name] = (meta["Version"], whl, meta.get_all("Requires-Dist") or [])
for name, version in pins.items():
    if name not in wheels:
        problems.append(f"missing wheel: {name}=={version}")
    elif Version(wheels[name][0]) != Version(version):
        problems.append(f"{name}: wheel {wheels[name][0]}, pinned {version}")
for name in set(wheels) - set(pins):
    problems.append(f"unpinned wheel {wheels[name][1].name} (remove it: one version of each)")
needed = set(ROOTS)
assumed = set()
for name, (version, whl, requires) in sorted(wheels.items()):
    for text in requires:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue  # an extra, or another Python/platform
        dep = norm(req.name)
        needed.add(dep)
        if dep in wheels:
            if not req.specifier.contains(wheels[dep][0], prereleases=True):
                problems.append(f"{name} {version} needs {text}, carried {dep} {wheels[dep][0]}")
        elif dep in gpu_has:
            assumed.add(f"{dep}{req.specifier}")
        else:
            problems.append(f"{name} {version} needs {text}: neither carried nor on the GPU machine")
for name in set(wheels) - needed:
    problems.append(f"{wheels[name][1].name}: no root and no carried wheel needs it (drop it from PINS)")
size = sum(w.stat().st_size for _, w, _ in wheels.values())
print(f"{len(wheels)} wheels, {size / 2**20:.1f} MiB in {dest}/")
print("needed from the GPU machine's own packages: " + ", ".join(sorted(assumed)))
if problems:
    print("PROBLEMS:\n  " + "\n  ".join(problems))
    sys.exit(1)
print("closure OK: every requirement is carried or on the GPU machine")
EOF
