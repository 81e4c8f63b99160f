# The CI echoes each command (set -x), as GitHub's "Run ..." and GitLab's "$ ..." lines do.
set -eux
python3 make_wheels.py wheels
python3 -m venv .venv
.venv/bin/pip install --disable-pip-version-check --no-index --find-links wheels -r requirements.txt
