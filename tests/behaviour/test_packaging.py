"""The wheel, installed without the repository: one import package (`archspec`, with
`archspec.backends`), the bundled specs as package data, usable by name from the command line and
from Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from support import ROOT

SOURCES = ("archspec", "backends", "specs", "pyproject.toml", "README.md")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the folder it is installed into), built from a copy of the sources so that the
    build leaves nothing in the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"
    tree.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tree / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", str(tree), "-w", str(work / "dist")],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").glob("archspec-*.whl")
    site = work / "site"
    install = [*pip, "install", "--no-deps", "--target", str(site), str(wheel)]
    done = subprocess.run(install, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return wheel, site


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Python with the installed wheel and the dependencies' site-packages, started with -S so
    that no .pth file (the checkout's editable install among them) adds anything, and outside the
    repository."""
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), deps])}
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_wheel_holds_one_package_with_the_specs(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "archspec = archspec.cli:main" in archive.read(entry_points).decode()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"archspec"}
    bundled = {name for name in names if name.startswith("archspec/specs/") and name.endswith(".yaml")}
    in_repo = {f"archspec/specs/{p.relative_to(ROOT / 'specs').as_posix()}" for p in (ROOT / "specs").rglob("*.yaml")}
    assert bundled == in_repo
    assert "archspec/backends/torch/codegen.py" in names
    assert "archspec/schema/spec.schema.json" in names


def test_installed_specs_work_by_name(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, site = installed
    listed = run_installed(site, tmp_path, "-m", "archspec", "list", "inception*")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == [
        "inception_resnet_v1",
        "inception_resnet_v2",
        "inception_resnet_v2_paper",
        "inception_v3",
        "inception_v3_aux",
        "inception_v3_tf",
        "inception_v4",
    ]
    checked = run_installed(site, tmp_path, "-m", "archspec", "check", "inception_resnet_v2", "archspec:xception")
    assert checked.returncode == 0, checked.stderr
    assert "inception_resnet_v2: ok: inception_resnet_v2, 299x299x3 -> 1000, 55,843,464 params" in checked.stdout
    from_python = run_installed(
        site,
        tmp_path,
        "-c",
        "import archspec, importlib.util;"
        "spec = archspec.load('inception_resnet_v2');"
        "print(archspec.__file__, spec.params, importlib.util.find_spec('backends'),"
        " archspec.load('examples/inception_v4_small').params)",
    )
    assert from_python.returncode == 0, from_python.stderr
    where, params, top_level_backends, small = from_python.stdout.split()
    assert Path(where).is_relative_to(site)
    assert (params, top_level_backends, small) == ("55843464", "None", "19671722")


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    """pyproject.toml names the packages (the backends are mapped from backends/): one that is
    not named would be missing from the wheel."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        f"archspec.{'.'.join(p.parent.relative_to(ROOT).parts)}" for p in (ROOT / "backends").rglob("__init__.py")
    }
    folders |= {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "archspec").rglob("__init__.py")}
    assert set(config["packages"]) == folders | {"archspec.specs"}
    assert config["package-dir"] == {"archspec": "archspec", "archspec.backends": "backends", "archspec.specs": "specs"}


def test_cli_py_runs_from_a_checkout_without_installing(tmp_path: Path) -> None:
    """`python cli.py` in a copy of the checkout, with only the dependencies importable: the
    package from the copy, its backends from backends/ beside it, and no link anywhere."""
    for name in (*SOURCES, "cli.py"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    assert not [p for p in tmp_path.rglob("*") if p.is_symlink()]
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": deps}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-S", "cli.py", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("archspec "), version.stderr
    compiled = cli("compile", "inception_v4", "--backend", "torch", "-o", "v4.py")
    assert compiled.returncode == 0, compiled.stderr
    assert "class InceptionV4(nn.Module):" in (tmp_path / "v4.py").read_text()  # archspec.backends.torch ran
