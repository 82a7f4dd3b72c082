import hashlib
import subprocess

from sae_pipelines.tracking.provenance import file_sha256, git_state, installed_packages


def test_git_state_names_the_commit_and_sees_changes(tmp_path):
    assert git_state(tmp_path) == {"git_commit": "unknown", "git_dirty": "unknown"}
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.txt").write_text("one")
    subprocess.run([*git, "add", "a.txt"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=tmp_path, check=True)
    head = subprocess.check_output(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, text=True
    ).strip()
    assert git_state(tmp_path) == {"git_commit": head, "git_dirty": "false"}
    (tmp_path / "a.txt").write_text("two")
    assert git_state(tmp_path)["git_dirty"] == "true"


def test_file_hash_is_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"x,y\n1,2\n" * 1000)
    assert (
        file_sha256(path, block_size=7) == hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_installed_packages_include_the_stack():
    packages = installed_packages().splitlines()
    assert "kedro==1.7.0" in packages
    assert any(line.startswith("tensorflow==") for line in packages)
