"""Risk levels of shell commands an agent may run."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.agent.risk import classify

CASES = [
    ("ls -la && pytest -q", None),
    ("git push origin main", None),
    ("git push --force origin main", "high"),
    ("git push -f", "high"),
    ("git push origin +main:main", "high"),
    ("git push --force-with-lease", "high"),
    ("git filter-branch --tree-filter x", "high"),
    ("git rebase -i main", "high"),
    ("git reset --hard origin/main", "high"),
    ("git reset --hard HEAD~1", None),
    ("rm -rf build dist", None),
    ("rm -rf /", "high"),
    ("rm -rf ~/projects", "high"),
    ("rm -rf ../sibling", "high"),
    ("rm /etc/hosts", "medium"),
    ("rm -rf /tmp/scratch", "low"),
    ("rm -rf ~/.cache/pip", "low"),
    ("rm /var/log/app.log", "low"),
    ("psql -c 'DROP TABLE users'", "high"),
    ("psql -c 'truncate users;'", "high"),
    ("echo truncate the text", None),
    ("truncate -s 0 out.log", None),
    ("kubectl apply -f deploy.yaml", "high"),
    ("kubectl get pods", None),
    ("terraform apply", "high"),
    ("terraform plan", None),
    ("npm publish", "high"),
    ("docker push registry/app", "high"),
    ("aws iam create-access-key --user-name x", "high"),
    ("sudo apt install jq", "high"),
    ("git branch -D old", "medium"),
    ("git push origin --delete old", "medium"),
    ("git config --global user.name x", "medium"),
    ("echo x >> ~/.bashrc", "medium"),
    ("echo x > notes.txt", None),
    ("sed -i s/a/b/ ~/.gitconfig", "medium"),
    ("sed -i s/a/b/ src/app.py", None),
    ("make test 2>&1 | tail -5 > /dev/null", None),
]


@pytest.mark.parametrize(("command", "level"), CASES, ids=[c for c, _ in CASES])
def test_classification(command: str, level: str | None, tmp_path: Path) -> None:
    risk = classify(command, tmp_path)
    assert (risk.level if risk else None) == level, risk


def test_the_reason_names_what_is_risky(tmp_path: Path) -> None:
    risk = classify("rm -rf /srv/data", tmp_path)
    assert risk is not None and risk.reason == "rm -r outside the workspace (/srv/data)"
