"""A built wheel, installed away from the checkout, finds the bundled resources (issue 12.5).

The wheel is built from a copy of the checkout (so no build/ folder lands in the tree) with the
installed setuptools, offline, and installed with pip into a fresh virtual environment whose
only other entries are this environment's dependencies (torch, diffusers, PySide6: a `.pth`
line, which does not run this environment's editable-install hook). Every check runs there,
from another folder. .ci/run does the full version: a fresh venv with pip-installed
dependencies and `latent-studio demo`.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _copy_checkout(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv with the wheel installed, the wheel's path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to build from")
    _copy_checkout(tmp / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(tmp / "dist"), str(tmp / "src")], check=True, capture_output=True)
    [wheel] = (tmp / "dist").glob("latent_studio-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, wheel


def _run(python: Path, code: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LATENT_STUDIO_", "PYTHON"))}
    completed = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=cwd, env=env,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_the_wheel_ships_the_runtime_and_its_resources_and_leaves_dev_tools_out(installed):
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("/", 1)[1] for n in names if n.startswith("latent_studio_resources/")}
    expected = {str(p.relative_to(ROOT / "resources")) for p in (ROOT / "resources").rglob("*")
                if p.is_file() and "docs" not in p.relative_to(ROOT / "resources").parts}
    assert shipped == expected
    assert not [n for n in names if "training" in n or "stall_probe" in n]
    assert "engine/py.typed" in names and "engine/toy/evaluate.py" in names


def test_installed_package_finds_models_configs_icons_and_styles_from_another_folder(installed, tmp_path):
    python, _ = installed
    report = json.loads(_run(python, """
import importlib.util, json
import engine, studio
from engine.paths import bundled_models_dir, resources_dir, shipped_configs_dir
from engine.models.registry import ModelRegistry
print(json.dumps({
    "engine": engine.__file__, "studio": studio.__file__, "resources": str(resources_dir()),
    "models": sorted(spec.id for spec in ModelRegistry().list()),
    "configs": sorted(p.name for p in shipped_configs_dir().iterdir()),
    "icons": len(list((resources_dir() / "icons").glob("*.svg"))),
    "style": (resources_dir() / "styles" / "dark.qss").is_file(),
    "training": importlib.util.find_spec("engine.toy.training") is not None,
}))
""", cwd=tmp_path))
    venv = str(python.parent.parent)
    assert all(report[key].startswith(venv) for key in ("engine", "studio", "resources")), report
    assert report["resources"].endswith("latent_studio_resources")
    assert {"toy-scenes", "toy-scenes-clip"} <= set(report["models"])
    assert report["configs"] == ["sd15", "sd21", "sdxl"]
    assert report["icons"] == len(list((ROOT / "resources" / "icons").glob("*.svg"))) > 0
    assert report["style"] and not report["training"]


def test_installed_launcher_lists_the_bundled_models(installed, tmp_path):
    python, _ = installed
    listed = json.loads(_run(python, "from studio.launcher import main; main(['models', 'list', '--json'])",
                             cwd=tmp_path))
    bundled = {m["id"] for m in listed["models"] if m["source"] == "bundled" and m["available"]}
    assert bundled == {"toy-scenes", "toy-scenes-clip", "toy-scenes-motion"}
