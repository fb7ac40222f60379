"""Ready to publish: `python -m build` makes an sdist and a wheel that
`twine check --strict` passes; the wheel carries py.typed and the license;
the unpacked sdist's own tests run and pass."""

import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from .server import PACKAGE_DIR

pytestmark = pytest.mark.slow
# The release tools are the project's (requirements-dev.txt), not every
# environment's that runs these tests (nox's per-Django ones).
for tool in ("build", "twine", "setuptools"):
    pytest.importorskip(tool)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: the pinned setuptools of this virtualenv, no download.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", out, PACKAGE_DIR],
        check=True,
        capture_output=True,
    )
    return out


def test_twine_check_strict_passes(dist):
    """Both files, their metadata and their README render, pass twine's
    strict check."""
    files = sorted(dist.iterdir())
    assert [f.suffix for f in files] == [".whl", ".gz"], files
    subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files], check=True
    )


def test_the_wheel_carries_its_types_and_license(dist):
    """py.typed beside the code, LICENSE in the metadata, and no tests."""
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "leanasgi/py.typed" in names
    assert any(name.endswith("licenses/LICENSE") for name in names), names
    assert not [name for name in names if name.startswith("tests/")]


def test_the_unpacked_sdists_tests_pass(dist, tmp_path):
    """The sdist's tests run from its unpacked folder against its own code
    (the build and the fresh-virtualenv install are left to this checkout)."""
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (folder,) = tmp_path.iterdir()
    env = {**os.environ, "PYTHONPATH": str(folder / "src")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--deselect", "tests/test_install.py", "--deselect", "tests/test_package.py"],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import leanasgi; print(leanasgi.__file__)"],
        cwd=folder, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(folder)), where
