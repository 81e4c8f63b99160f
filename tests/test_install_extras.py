"""The light install (`pip install cimedic`, no extra: what the GitHub Action installs) and its extras
(issue 15).

Commands run on a site directory holding only what pip would install (tests/light_install.py); a command
that needs an extra must say which in one line, never with a traceback.
"""

from __future__ import annotations

from pathlib import Path

import light_install
import pytest

EXAMPLE = light_install.ROOT / "examples" / "python-module-not-found.log"


@pytest.fixture(scope="session")
def light_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return light_install.make_site(tmp_path_factory.mktemp("light") / "site")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_the_action_runs_on_the_light_install(light_site: Path, home: Path) -> None:
    # Outside GitHub Actions it stops at its own check of the environment: the imports all succeeded.
    out = light_install.run(light_site, "action", home=home)
    assert "needs GITHUB_REPOSITORY, GITHUB_RUN_ID and a token" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 2 and "Traceback" not in out.stderr and "extra" not in out.stderr
