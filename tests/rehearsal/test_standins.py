"""The download stand-ins load through torchvision's and ganhelpers' own code, untouched.

CIFAR-10 needs the one test-side switch (site/sitecustomize.py: torchvision's MD5 check of CIFAR-10's
files, which a stand-in cannot match), so what loads CIFAR-10 runs in a subprocess with that folder on
PYTHONPATH, as the notebook kernels do. MNIST and the Inception weights need no switch.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

import rehearsal_lib as lib

pytestmark = pytest.mark.rehearsal


def _python(code: str, env_extra: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GANHELPERS_DATA", "TORCH_HOME")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout)


CIFAR_LOAD = """
    import json, sys
    import torchvision.datasets.cifar as cifar
    from torchvision import datasets
    root = {root!r}
    out = {{"hook": getattr(cifar, "GANHELPERS_REHEARSAL_MD5_OFF", False)}}
    for train in (True, False):
        ds = datasets.CIFAR10(root, train=train, download=False)
        x, y = ds[0]
        out["train" if train else "test"] = [len(ds), list(ds.data.shape), ds.classes, ds.targets[:20], x.size, y]
    print(json.dumps(out))
"""


def test_cifar10_standin_layout(standins):
    folder = standins.data_dir / lib.CIFAR_FOLDER
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta", "readme.html"])
    assert (standins.data_dir / lib.CIFAR_ARCHIVE).is_file()  # the download keeps its archive beside the folder
    import tarfile
    with tarfile.open(standins.data_dir / lib.CIFAR_ARCHIVE) as tar:
        assert {m.name for m in tar.getmembers()} == {f"{lib.CIFAR_FOLDER}/{p.name}" for p in folder.iterdir()}


def test_cifar10_standin_pickles_arrays_as_numpy_1_does(standins):
    # the real files load under numpy 1.x and 2.x; a numpy-2 pickle names numpy._core, which numpy 1.24 (the
    # floor, in the rehearsal's environment) cannot import: CI failed so before the stand-in wrote numpy.core
    raw = (standins.data_dir / lib.CIFAR_FOLDER / "data_batch_1").read_bytes()
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw and b"numpy._core" not in raw


def test_torchvision_cifar10_loads_the_standin_with_the_switch(standins, site_dir):
    proc = _python(CIFAR_LOAD.format(root=str(standins.data_dir)), {"PYTHONPATH": str(site_dir)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["hook"] is True
    n = lib.CIFAR_PER_BATCH
    assert out["train"][:3] == [5 * n, [5 * n, 32, 32, 3], lib.CIFAR_LABEL_NAMES]
    assert out["test"][:3] == [n, [n, 32, 32, 3], lib.CIFAR_LABEL_NAMES]
    assert out["train"][4] == [32, 32]  # a PIL image, as from the real set
    assert len(set(out["train"][3])) > 5  # classes mixed, as in the real batches


def test_the_switch_is_needed_and_does_nothing_else(standins, site_dir, tmp_path):
    # without it torchvision refuses the stand-in (its MD5s differ from the real files'): the switch is what
    # makes the stand-in load, not something in the stand-in's layout
    proc = _python(CIFAR_LOAD.format(root=str(standins.data_dir)), {})
    assert proc.returncode != 0 and "Dataset not found or corrupted" in proc.stderr, proc.stderr
    # with it, a missing file still fails as after a broken download
    broken = tmp_path / "broken"
    shutil.copytree(standins.data_dir / lib.CIFAR_FOLDER, broken / lib.CIFAR_FOLDER)
    (broken / lib.CIFAR_FOLDER / "data_batch_3").unlink()
    proc = _python(CIFAR_LOAD.format(root=str(broken)), {"PYTHONPATH": str(site_dir)})
    assert proc.returncode != 0 and "Dataset not found or corrupted" in proc.stderr, proc.stderr
    # and other folders keep their MD5 check: CIFAR-100 files of the right names but wrong content fail
    c100 = tmp_path / "c100" / "cifar-100-python"
    c100.mkdir(parents=True)
    for name in ("train", "test", "meta"):
        shutil.copy(standins.data_dir / lib.CIFAR_FOLDER / "test_batch", c100 / name)
    code = f"""
        from torchvision import datasets
        try:
            datasets.CIFAR100({str(tmp_path / 'c100')!r}, train=False, download=False)
        except RuntimeError as e:
            print("refused:", e)
    """
    proc = _python(code, {"PYTHONPATH": str(site_dir)})
    assert proc.returncode == 0 and proc.stdout.startswith("refused:"), proc.stdout + proc.stderr


def test_cifar10_standin_images_are_the_shapes(standins, site_dir, tmp_path):
    from ganhelpers.data import make_shapes
    code = f"""
        import torch
        from torchvision import datasets
        ds = datasets.CIFAR10({str(standins.data_dir)!r}, train=True, download=False)
        torch.save({{"data": torch.from_numpy(ds.data[:50].copy()), "targets": torch.tensor(ds.targets[:50])}},
                   {str(tmp_path / 'first50.pt')!r})
    """
    proc = _python(code, {"PYTHONPATH": str(site_dir)})
    assert proc.returncode == 0, proc.stderr
    got = torch.load(tmp_path / "first50.pt")
    want = make_shapes(6 * lib.CIFAR_PER_BATCH, seed=0)  # data_batch_1 begins with its first images
    assert torch.equal(got["data"].permute(0, 3, 1, 2), want.images[:50])  # HWC from torchvision = our CHW
    assert torch.equal(got["targets"], want.labels[:50])


def test_ganhelpers_loads_cifar10_standin(standins, site_dir):
    code = f"""
        import json
        from ganhelpers.data import load_dataset
        out = {{}}
        for split in ("train", "test"):
            d = load_dataset("cifar10", split, root={str(standins.data_dir)!r})
            out[split] = [len(d), list(d.img_shape), d.n_classes, d.classes, str(d.images.dtype)]
        print(json.dumps(out))
    """
    proc = _python(code, {"PYTHONPATH": str(site_dir)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    n = lib.CIFAR_PER_BATCH
    assert out["train"] == [5 * n, [3, 32, 32], 10, lib.CIFAR_LABEL_NAMES, "torch.uint8"]
    assert out["test"] == [n, [3, 32, 32], 10, lib.CIFAR_LABEL_NAMES, "torch.uint8"]


def test_ganhelpers_cifar10_through_GANHELPERS_DATA(standins, site_dir):
    """The notebooks pass no root: DATA_DIR comes from GANHELPERS_DATA."""
    code = """
        from ganhelpers.data.datasets import DATA_DIR, load_dataset
        print(DATA_DIR, len(load_dataset("cifar10", "test")))
    """
    proc = _python(code, {"PYTHONPATH": str(site_dir), "GANHELPERS_DATA": str(standins.data_dir)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(standins.data_dir), str(lib.CIFAR_PER_BATCH)]


def test_mnist_standin_layout(standins):
    raw = standins.data_dir / "MNIST" / "raw"
    names = sorted(p.name for p in raw.iterdir())
    assert names == sorted(list(lib.MNIST_FILES) + [f"{n}.gz" for n in lib.MNIST_FILES])
    head = (raw / "train-images-idx3-ubyte").read_bytes()[:16]
    assert head == bytes.fromhex("00000803") + (4000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes()[:8] == bytes.fromhex("00000801") + (1000).to_bytes(4, "big")
    import gzip
    for name in lib.MNIST_FILES:  # each .gz unpacks to its neighbour, as the download left them
        assert gzip.decompress((raw / f"{name}.gz").read_bytes()) == (raw / name).read_bytes()


def test_torchvision_mnist_loads_the_standin(standins):
    from torchvision import datasets
    from ganhelpers.data import load_dataset
    for train, split, n in ((True, "train", 4000), (False, "test", 1000)):
        ds = datasets.MNIST(str(standins.data_dir), train=train, download=False)
        assert len(ds) == n and ds.data.shape == (n, 28, 28) and ds.data.dtype == torch.uint8
        real = load_dataset("mnist-5k", split)
        assert torch.equal(ds.data, real.images[:, 0]) and torch.equal(ds.targets, real.labels)
        img, label = ds[0]
        assert img.size == (28, 28) and label == int(real.labels[0])


def test_ganhelpers_loads_mnist_standin(standins, monkeypatch):
    from ganhelpers import data
    from ganhelpers.data import datasets
    monkeypatch.setattr(datasets, "reachable", lambda *a, **k: pytest.fail("tried the network"))
    for split, n in (("train", 4000), ("test", 1000)):
        d = data.load_dataset("mnist", split, root=standins.data_dir)
        assert (len(d), d.img_shape, d.n_classes) == (n, (1, 28, 28), 10)
        assert torch.equal(d.images, data.load_dataset("mnist-5k", split).images)


def test_inception_weights_standin_is_where_torch_hub_looks(standins, monkeypatch):
    from pytorch_fid.inception import FID_WEIGHTS_URL
    from ganhelpers.eval import extractors
    assert extractors.FID_WEIGHTS_URL == FID_WEIGHTS_URL
    monkeypatch.setenv("TORCH_HOME", str(standins.torch_home))  # torch.hub.get_dir reads it on every call
    assert extractors.inception_weights_path() == standins.inception_weights
    state = torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, progress=False)  # the cache, no download
    assert "fc.weight" in state and state["fc.weight"].shape == (1008, 2048)


def test_inception_extractor_loads_the_standin_weights(standins, monkeypatch):
    from ganhelpers import data
    from ganhelpers.data import datasets
    from ganhelpers.eval import extractors
    monkeypatch.setenv("TORCH_HOME", str(standins.torch_home))
    monkeypatch.setattr(datasets, "reachable", lambda *a, **k: pytest.fail("tried the network"))
    extractor = extractors.InceptionExtractor(device="cpu", weights="fid")  # pytorch-fid's loader, strict
    state = torch.load(standins.inception_weights, weights_only=True)
    assert torch.equal(extractor.fc_weight, state["fc.weight"])
    assert extractor.tag == "inception-fid"
    images = data.to_float(data.make_shapes(4, seed=3).images)
    features, logits = extractor(images)
    assert features.shape == (4, 2048) and logits.shape == (4, 1008)
    assert torch.isfinite(features).all() and torch.isfinite(logits).all()
    assert (features[0] - features[1]).abs().max() > 0  # the features depend on the image
    grey = extractor(data.to_float(data.load_dataset("mnist-5k", "test", n=2).images))[0]
    assert grey.shape == (2, 2048) and torch.isfinite(grey).all()
