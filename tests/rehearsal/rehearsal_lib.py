"""The full-mode rehearsal's machinery: download stand-ins, the Colab-like environment, a notebook runner.

Used by the fixtures in conftest.py, and runnable by hand:

    python tests/rehearsal/rehearsal_lib.py env DIR        # build the rehearsal environment in DIR, print its python
                                                           # (then GANHELPERS_REHEARSAL_ENV_DIR=DIR uses it as built)
    python tests/rehearsal/rehearsal_lib.py standins DIR   # make the download stand-ins in DIR

Nothing here patches ganhelpers or the notebooks: the stand-ins are files laid out exactly as torchvision's
and torch.hub's downloads leave them, and the only switch is site/sitecustomize.py (CIFAR-10's MD5 check).
"""
from __future__ import annotations

import ast
import gzip
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]  # the repository root: tests/rehearsal/ -> tests/ -> root
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SITE_DIR = HERE / "site"  # holds sitecustomize.py, the one test-side switch; goes on the kernel's PYTHONPATH

# ----------------------------------------------------------------------------- download stand-ins

CIFAR_FOLDER = "cifar-10-batches-py"  # torchvision.datasets.CIFAR10.base_folder
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"  # CIFAR10.filename: download_and_extract_archive keeps it beside the folder
CIFAR_LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# images per data_batch_i and in test_batch (the real set has 10,000): 500 train / 100 test. Small on purpose: full
# mode's FID computes the Inception statistics of the whole train split once (cached in GANHELPERS_DATA/stats),
# at about 2 images/s on a busy 2-core CPU: 5,000 images took over the 600 s a cell may take, 500 take ~4 minutes.
CIFAR_PER_BATCH = 30
MNIST_FILES = {  # torchvision.datasets.MNIST: unpacked file -> (split, kind); each also left as .gz by the download
    "train-images-idx3-ubyte": ("train", "images"),
    "train-labels-idx1-ubyte": ("train", "labels"),
    "t10k-images-idx3-ubyte": ("test", "images"),
    "t10k-labels-idx1-ubyte": ("test", "labels"),
}
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"  # basename of pytorch_fid.inception.FID_WEIGHTS_URL


@dataclass
class StandIns:
    data_dir: Path   # GANHELPERS_DATA: cifar-10-batches-py/, cifar-10-python.tar.gz, MNIST/raw/
    torch_home: Path  # TORCH_HOME: hub/checkpoints/pt_inception-2015-12-05-6726825d.pth

    @property
    def inception_weights(self) -> Path:
        return self.torch_home / "hub" / "checkpoints" / FID_WEIGHTS_FILE


class _NumpyOnePickler(pickle._Pickler):
    """Pickles numpy arrays as numpy 1.x does (and as the real CIFAR-10 files are): under the module names
    numpy.core.*, which numpy 1.x and 2.x both load. numpy 2 itself writes numpy._core.*, which numpy 1.x
    cannot import, so a stand-in made under numpy 2 would break on the floor's numpy 1.24."""

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", "") or ""
        if module.startswith("numpy._core"):
            legacy = "numpy.core" + module[len("numpy._core"):]
            self.write(pickle.GLOBAL + f"{legacy}\n{name or obj.__qualname__}\n".encode("ascii"))
            self.memoize(obj)
            return
        super().save_global(obj, name)


def make_cifar10(data_dir: Path, per_batch: int = CIFAR_PER_BATCH, seed: int = 0) -> Path:
    """<data_dir>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta, readme.html} and the
    cifar-10-python.tar.gz beside it, as torchvision's CIFAR10(download=True) leaves them; the images are
    `ganhelpers.data.make_shapes` (3x32x32 uint8, 10 balanced classes) under CIFAR-10's class names,
    `per_batch` per file (data_batch_1 holds the first of `make_shapes(6 * per_batch, seed)`, and so on).

    The real batches are Python 2 pickles of dicts whose keys torchvision reads, after
    pickle.load(encoding="latin1"), as the str keys "data" ((N, 3072) uint8, each row the R, G, B
    planes of a 32x32 image, row-major) and "labels" (a list of ints); batches.meta holds
    "label_names". Protocol 2 with str keys reads back the same way.
    """
    import numpy as np
    from ganhelpers.data import make_shapes

    folder = Path(data_dir) / CIFAR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    batches = [(f"data_batch_{i}", f"training batch {i} of 5") for i in range(1, 6)]
    batches.append(("test_batch", "testing batch 1 of 1"))
    shapes = make_shapes(per_batch * len(batches), seed=seed)
    images = shapes.images.numpy().reshape(len(shapes), 3 * 32 * 32)  # (N, C, H, W) -> (N, 3072): CHW row-major
    labels = shapes.labels.tolist()
    for b, (name, batch_label) in enumerate(batches):
        rows = slice(b * per_batch, (b + 1) * per_batch)
        entry = {"batch_label": batch_label, "labels": labels[rows],
                 "data": np.ascontiguousarray(images[rows], dtype=np.uint8),
                 "filenames": [f"standin_shape_{b * per_batch + k}.png" for k in range(per_batch)]}
        with open(folder / name, "wb") as f:
            _NumpyOnePickler(f, protocol=2).dump(entry)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"num_cases_per_batch": per_batch, "label_names": CIFAR_LABEL_NAMES, "num_vis": 3072}, f,
                    protocol=2)
    (folder / "readme.html").write_text("<html><body>Stand-in for CIFAR-10 made by tests/rehearsal "
                                        "(ganhelpers' generated shapes under CIFAR-10's class names).</body></html>\n")
    with tarfile.open(Path(data_dir) / CIFAR_ARCHIVE, "w:gz") as tar:
        for name in sorted(p.name for p in folder.iterdir()):
            tar.add(folder / name, arcname=f"{CIFAR_FOLDER}/{name}")
    return folder


def _idx_bytes(array, magic: int) -> bytes:
    """The idx format of MNIST: a big-endian int32 magic (2051 images, 2049 labels), one big-endian
    int32 per dimension, then the uint8 data."""
    return struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()


def make_mnist(data_dir: Path) -> Path:
    """<data_dir>/MNIST/raw/ with the four idx files and their .gz, as torchvision's MNIST(download=True)
    leaves them (it downloads the .gz, unpacks each beside it and keeps it). `_check_exists` looks for
    the four unpacked files (without MD5). The digits are the real mnist-5k ones: 4,000 train / 1,000 test."""
    import numpy as np
    from ganhelpers.data import load_dataset

    raw = Path(data_dir) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    sets = {split: load_dataset("mnist-5k", split) for split in ("train", "test")}
    for name, (split, kind) in MNIST_FILES.items():
        data = sets[split]
        if kind == "images":
            payload = _idx_bytes(np.ascontiguousarray(data.images[:, 0].numpy(), dtype=np.uint8), 2051)
        else:
            payload = _idx_bytes(np.ascontiguousarray(data.labels.numpy(), dtype=np.uint8), 2049)
        (raw / name).write_bytes(payload)
        with gzip.open(raw / f"{name}.gz", "wb") as f:
            f.write(payload)
    return raw


def make_inception_weights(torch_home: Path, seed: int = 0) -> Path:
    """A state dict of pytorch-fid's FID Inception with random (seeded) weights, at the path where
    torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL) looks first when TORCH_HOME=torch_home.

    The network is built as pytorch_fid.inception.fid_inception_v3 builds it (torchvision's
    Inception-v3 with 1008 classes, no aux logits, and the nine FID blocks) but the URL is never
    loaded. Convolutions and the fc layer get He init (as ganhelpers.eval.extractors' "random" Inception), so
    activations survive the 40+ layers and features depend on the image.
    """
    import torch
    from pytorch_fid import inception as pf
    from torch import nn

    path = Path(torch_home) / "hub" / "checkpoints" / FID_WEIGHTS_FILE
    assert pf.FID_WEIGHTS_URL.rsplit("/", 1)[1] == FID_WEIGHTS_FILE, pf.FID_WEIGHTS_URL
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = pf.FIDInceptionE_1(1280)
        net.Mixed_7c = pf.FIDInceptionE_2(2048)
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    torch.save(net.state_dict(), tmp)
    tmp.replace(path)
    return path


def make_standins(where: Path) -> StandIns:
    where = Path(where)
    s = StandIns(where / "data", where / "torch_home")
    make_cifar10(s.data_dir)
    make_mnist(s.data_dir)
    make_inception_weights(s.torch_home)
    return s


# ----------------------------------------------------------------------------- the environment

COLAB_PINNED = ("torch", "torchvision", "numpy", "scipy", "matplotlib", "ipywidgets", "tqdm")  # the set-up cell must not change these
COLAB_OTHERS = ("ipykernel", "nbclient", "nbformat")  # also preinstalled by Colab; the kernel needs ipykernel
FLOOR_FILE = HERE / "floor.txt"  # Colab's preinstalls at the floors pyproject.toml declares, plus the kernel and pytest
ENV_PYTHON_VAR = "GANHELPERS_REHEARSAL_PYTHON"  # use this interpreter as is instead of building an environment
ENV_DIR_VAR = "GANHELPERS_REHEARSAL_ENV_DIR"  # an environment `build_env` built beforehand (CI: while the main
                                             # pytest runs): used as built, the version check included


@dataclass
class RehearsalEnv:
    python: Path
    built: bool                        # False: GANHELPERS_REHEARSAL_PYTHON, used as is
    clone: Path | None = None
    setup_command: list[str] = field(default_factory=list)
    before: dict = field(default_factory=dict)   # versions after the "Colab" preinstall
    after: dict = field(default_factory=dict)    # versions after the set-up cell's pip command
    seconds: dict = field(default_factory=dict)  # timings of each step

    def changed(self) -> dict:
        return {p: (self.before.get(p), self.after.get(p)) for p in COLAB_PINNED
                if self.before.get(p) != self.after.get(p)}


def _run(cmd, log: Path | None = None, timeout: float = 3600, **kw) -> subprocess.CompletedProcess:
    cmd = [str(c) for c in cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if log is not None:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}[exit {proc.returncode}]\n\n")
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                           f"--- stdout (end) ---\n{proc.stdout[-3000:]}\n--- stderr (end) ---\n{proc.stderr[-3000:]}")
    return proc


def snapshot_repo(root: Path, dest: Path) -> Path:
    """A git repository at `dest` holding the working tree of `root` as it is now: tracked files and
    untracked files git does not ignore, uncommitted changes included, in one commit; pip installs it
    from git+file:// as Colab installs the real repository from git+https://."""
    root, dest = Path(root), Path(dest)
    out = _run(["git", "-C", root, "ls-files", "-co", "--exclude-standard", "-z"]).stdout
    dest.mkdir(parents=True)
    for rel in sorted(set(p for p in out.split("\0") if p)):
        src = root / rel
        if not src.exists() and not src.is_symlink():  # tracked but deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)
    git = ["git", "-C", dest, "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@localhost",
           "-c", "commit.gpgsign=false"]
    _run(git[:3] + ["init", "-q"])
    _run(git + ["add", "-A"])
    _run(git + ["commit", "-q", "-m", "working tree snapshot for the full-mode rehearsal"])
    return dest


def setup_pip_command(notebooks=NOTEBOOKS) -> list:
    """The pip command of the notebooks' set-up cell that installs ganhelpers from git: the elements of
    the list literal passed to subprocess (sys.executable kept as the object `sys.executable`).
    Every notebook must use the same one."""
    found = {}
    for path in notebooks:
        nb = json.loads(Path(path).read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            try:
                tree = ast.parse("".join(cell["source"]))
            except SyntaxError:  # IPython magics: not the set-up cell
                continue
            for node in ast.walk(tree):
                if not isinstance(node, (ast.List, ast.Tuple)):
                    continue
                items = []
                for elt in node.elts:
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                        items.append(elt.value)
                    elif ast.unparse(elt) == "sys.executable":
                        items.append(_SYS_EXECUTABLE)
                    else:
                        items = None
                        break
                if items and "pip" in items and "install" in items and any(
                        isinstance(i, str) and i.startswith("git+") for i in items):
                    found.setdefault(tuple(items), []).append(Path(path).name)
    if len(found) != 1:
        raise AssertionError("the notebooks' set-up cells should share one `pip install git+...` command, found "
                             + (", ".join(f"{list(k)} in {v}" for k, v in found.items()) or "none"))
    return list(next(iter(found)))


class _SysExecutable:
    def __repr__(self):
        return "sys.executable"


_SYS_EXECUTABLE = _SysExecutable()


def _versions(python: Path, packages) -> dict:
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            f"for p in {list(packages)!r}:\n"
            "    try: out[p] = m.version(p)\n"
            "    except m.PackageNotFoundError: out[p] = None\n"
            "print(json.dumps(out))")
    return json.loads(_run([python, "-c", code]).stdout)


def build_env(where: Path, root: Path = ROOT, say=print) -> RehearsalEnv:
    """Clone (snapshot) the repository, make a virtual environment, preinstall what Colab has at the oldest
    versions ganhelpers declares (floor.txt), then run the set-up cell's own pip command with only its URL
    replaced by git+file://<clone>. Records versions before and after that command."""
    where = Path(where)
    where.mkdir(parents=True, exist_ok=True)
    log = where / "build.log"
    seconds = {}
    t = time.perf_counter()
    clone = snapshot_repo(root, where / "clone")
    seconds["snapshot"] = time.perf_counter() - t

    t = time.perf_counter()
    venv = where / "venv"
    _run([sys.executable, "-m", "venv", venv], log)
    python = venv / "bin" / "python"
    seconds["venv"] = time.perf_counter() - t

    t = time.perf_counter()
    say(f"rehearsal env: pip install -r {FLOOR_FILE} (Colab's preinstalls, at ganhelpers' floors)")
    _run([python, "-m", "pip", "install", "-r", FLOOR_FILE], log)
    seconds["colab_preinstall"] = time.perf_counter() - t
    before = _versions(python, COLAB_PINNED + COLAB_OTHERS)

    t = time.perf_counter()
    command = [str(python) if i is _SYS_EXECUTABLE else (f"git+file://{clone}" if i.startswith("git+") else i)
               for i in setup_pip_command()]
    say(f"rehearsal env: the set-up cell's command: {' '.join(command)}")
    _run(command, log)
    seconds["setup_cell_pip"] = time.perf_counter() - t
    after = _versions(python, COLAB_PINNED + COLAB_OTHERS + ("ganhelpers",))
    env = RehearsalEnv(python, True, clone, command, before, after, seconds)
    (where / "versions.json").write_text(json.dumps(
        {"before": before, "after": after, "seconds": seconds, "setup_command": command}, indent=1))
    return env


def built_env(where: Path) -> RehearsalEnv:
    """The environment `build_env(where)` built earlier (`python rehearsal_lib.py env DIR`), as it returned it: its
    versions before and after the set-up cell's command come from versions.json, which is written last."""
    where = Path(where)
    record = where / "versions.json"
    if not record.is_file():
        raise FileNotFoundError(f"{ENV_DIR_VAR}={where}: no versions.json, so its build did not finish "
                                f"(see {where / 'build.log'})")
    saved = json.loads(record.read_text())
    return RehearsalEnv(where / "venv" / "bin" / "python", True, where / "clone", saved["setup_command"],
                        saved["before"], saved["after"], saved["seconds"])


def given_env(python: str) -> RehearsalEnv:
    python = Path(python)
    if not python.exists():
        raise FileNotFoundError(f"{ENV_PYTHON_VAR}={python}: no such interpreter")
    versions = _versions(python, COLAB_PINNED + COLAB_OTHERS + ("ganhelpers",))
    return RehearsalEnv(python, False, before=versions, after=versions)


def changed_message(env: RehearsalEnv) -> str:
    lines = [f"  {p}: {a} -> {b}" for p, (a, b) in env.changed().items()]
    return ("the notebooks' set-up cell (" + " ".join(env.setup_command) + ") changed packages that Colab "
            "preinstalls; in Colab it would replace the runtime's own versions (and may need a runtime restart):\n"
            + "\n".join(lines))


# ----------------------------------------------------------------------------- running a notebook

KERNEL_NAME = "ganhelpers-rehearsal"
CELL_TIMEOUT = 600


def write_kernelspec(python: Path, kernels_dir: Path) -> Path:
    """<kernels_dir>/ganhelpers-rehearsal/kernel.json starting ipykernel with the rehearsal env's python."""
    spec = Path(kernels_dir) / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ganhelpers full-mode rehearsal", "language": "python"}, indent=1))
    return Path(kernels_dir)


def kernel_env(standins: StandIns, python: Path, ipython_dir: Path, base: dict | None = None) -> dict:
    """The kernel's whole environment: this process's, without GANHELPERS_*, proxies, PYTHONPATH or an
    activated virtual environment, plus the rehearsal's variables."""
    base = dict(os.environ if base is None else base)
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "TORCH_HOME", "MPLBACKEND", "OMP_NUM_THREADS"}
    env = {k: v for k, v in base.items()
           if k not in drop and not k.startswith("GANHELPERS_") and not k.lower().endswith("_proxy")}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    if sys.prefix != sys.base_prefix:  # the test's own venv must not come first for `python`, `pip`, ...
        path = [p for p in path if Path(p).resolve() != (Path(sys.prefix) / "bin").resolve()]
    env.update({
        "PATH": os.pathsep.join([str(Path(python).parent)] + path),
        "GANHELPERS_MODE": "full",
        "GANHELPERS_REHEARSAL": "1",
        "GANHELPERS_DATA": str(standins.data_dir),
        "TORCH_HOME": str(standins.torch_home),
        "PYTHONPATH": str(SITE_DIR),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "2",
        "IPYTHONDIR": str(ipython_dir),
    })
    return env


def full_settings_with_resume(nb) -> int | None:
    """Index of the cell whose SETTINGS' "full" entry holds `resume=False`, or None."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and _full_block(cell.source) is not None:
            start, end = _full_block(cell.source)
            if "resume=False" in cell.source[start:end]:
                return i
    return None


def _full_block(source: str):
    """(start, end) of the text of `"full": dict(...)` in a SETTINGS cell, or None."""
    if "SETTINGS" not in source:
        return None
    m = re.search(r"""["']full["']\s*:\s*dict\(""", source)
    if not m:
        return None
    depth = 0
    for j in range(m.end() - 1, len(source)):
        depth += {"(": 1, ")": -1}.get(source[j], 0)
        if depth == 0:
            return m.start(), j + 1
    return None


def set_resume_true(nb) -> None:
    """Replace the full-mode `resume=False` by `resume=True`, what a student does after a disconnect."""
    i = full_settings_with_resume(nb)
    source = nb.cells[i].source
    start, end = _full_block(source)
    block = source[start:end]
    assert block.count("resume=False") == 1, block
    nb.cells[i].source = source[:start] + block.replace("resume=False", "resume=True") + source[end:]


RESULTS: list = []  # NotebookRun of every notebook run this session, for conftest's summary
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class NotebookRun:
    name: str
    label: str
    wall: float = 0.0
    cell_seconds: dict = field(default_factory=dict)
    failure: str | None = None
    failed_cell: int | None = None
    last_lines: str = ""
    executed: Path | None = None
    kernel_cmd: list = field(default_factory=list)  # the kernel process's command line, as the OS reports it

    def slowest(self, k: int = 3) -> str:
        top = sorted(self.cell_seconds.items(), key=lambda kv: -kv[1])[:k]
        return ", ".join(f"cell {i}: {s:.0f}s" for i, s in top)


def run_notebook(path: Path, workdir: Path, kernels_dir: Path, env: dict, label: str = "run",
                 resume: bool = False, cell_timeout: int = CELL_TIMEOUT, progress: bool = True) -> NotebookRun:
    """Execute a notebook cell by cell in the rehearsal kernel with cwd=workdir; stop at the first cell
    that raises. The executed notebook is written to workdir/<name>.<label>.ipynb. progress: print a line as
    each cell starts (seen with pytest -s)."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    path, workdir = Path(path), Path(workdir)
    nb = nbformat.read(path, as_version=4)
    if resume:
        set_resume_true(nb)
    result = NotebookRun(path.name, label)
    km = AsyncKernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir)]))
    client = NotebookClient(nb, km=km, kernel_name=KERNEL_NAME, timeout=cell_timeout, allow_errors=False,
                            startup_timeout=120, record_timing=True, resources={"metadata": {"path": str(workdir)}})
    client.reset_execution_trackers()
    t0 = time.perf_counter()
    try:
        with client.setup_kernel(env=env, cwd=str(workdir), cleanup_kc=True):
            result.kernel_cmd = _cmdline(km)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                t = time.perf_counter()
                if progress:
                    first = cell.source.strip().splitlines()[0][:70] if cell.source.strip() else ""
                    print(f"  [{time.strftime('%H:%M:%S')}] {path.name} ({label}) cell {index}: {first}", flush=True)
                try:
                    client.execute_cell(cell, index)
                except Exception as e:  # CellExecutionError, CellTimeoutError, DeadKernelError
                    result.cell_seconds[index] = time.perf_counter() - t
                    result.failed_cell = index
                    result.failure, result.last_lines = _describe_failure(path.name, label, index, cell, e)
                    break
                result.cell_seconds[index] = time.perf_counter() - t
    finally:
        result.wall = time.perf_counter() - t0
        result.executed = workdir / f"{path.stem}.{label}.ipynb"
        try:
            nbformat.write(nb, result.executed)
        except Exception:  # a half-written output must not hide the real failure
            pass
    return result


def _cmdline(km) -> list:
    try:
        pid = km.provisioner.process.pid
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except Exception:  # not Linux, or another provisioner: the kernel spec's argv is what was asked for
        return list(km.kernel_spec.argv)


def _describe_failure(name, label, index, cell, exc) -> tuple[str, str]:
    source = cell.source.splitlines()
    head = "\n".join(f"    {line}" for line in source[:8]) + ("\n    ..." if len(source) > 8 else "")
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        e = errors[-1]
        traceback = _ANSI.sub("", "\n".join(e.get("traceback", [])))
        what = f"{e.get('ename')}: {e.get('evalue')}"
    else:  # a timeout or a dead kernel: no error output
        traceback = _ANSI.sub("", f"{type(exc).__name__}: {exc}")
        what = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    last = "\n".join([line for line in traceback.splitlines() if line.strip()][-4:])
    text = (f"{name} ({label}): cell {index} raised {what}\n--- cell {index}, first lines ---\n{head}\n"
            f"--- traceback ---\n{traceback}")
    return text, last


# ----------------------------------------------------------------------------- by hand

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["env", "standins"])
    parser.add_argument("dir", type=Path)
    args = parser.parse_args()
    if args.what == "standins":
        s = make_standins(args.dir)
        print(f"GANHELPERS_DATA={s.data_dir}\nTORCH_HOME={s.torch_home}")
    else:
        t = time.perf_counter()
        e = build_env(args.dir)
        print(json.dumps({"seconds": e.seconds, "before": e.before, "after": e.after}, indent=1))
        if e.changed():
            print(changed_message(e))
        print(f"built in {time.perf_counter() - t:.0f} s\n{ENV_DIR_VAR}={args.dir}  (or {ENV_PYTHON_VAR}={e.python})")
