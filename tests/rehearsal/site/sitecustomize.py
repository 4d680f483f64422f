"""The full-mode rehearsal's one test-side switch: CIFAR-10's MD5 checks, off.

torchvision accepts a CIFAR-10 folder only when every file has the MD5 of the real download, which
a stand-in made by the rehearsal's fixtures cannot have. In a process that has this folder on
PYTHONPATH, an import hook waits for `torchvision.datasets.cifar` to be imported and then makes the
integrity check of the files in a `cifar-10-batches-py` folder ask only that the file exists. That
covers both places that check: `CIFAR10._check_integrity` (the five data batches and the test
batch) and `CIFAR10._load_meta` (batches.meta); both call the module's `check_integrity`. Nothing
else is touched: other folders (CIFAR-100, MNIST, ...) and every other module keep torchvision's
own checks, and a missing file still fails as it would after a broken download.
"""
import importlib.abc
import importlib.machinery
import os
import sys

_TARGET = "torchvision.datasets.cifar"


def _switch_off_cifar10_md5(module) -> None:
    original = module.check_integrity

    def check_integrity(fpath, md5=None):
        if os.path.basename(os.path.dirname(os.path.abspath(os.fspath(fpath)))) == module.CIFAR10.base_folder:
            return os.path.isfile(fpath)  # the stand-in's files exist; their MD5 cannot match the real set's
        return original(fpath, md5)

    module.check_integrity = check_integrity
    module.GANHELPERS_REHEARSAL_MD5_OFF = True  # lets a test see that the hook ran


class _CifarHook(importlib.abc.MetaPathFinder):
    """Finds torchvision.datasets.cifar as usual, and patches it right after it has executed."""

    def find_spec(self, name, path=None, target=None):
        if name != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _switch_off_cifar10_md5(module)

        spec.loader.exec_module = exec_and_patch
        return spec


if _TARGET in sys.modules:  # imported already (cannot happen at start-up, but be exact)
    _switch_off_cifar10_md5(sys.modules[_TARGET])
else:
    sys.meta_path.insert(0, _CifarHook())
