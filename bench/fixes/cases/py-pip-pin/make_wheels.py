"""Writes the local package index this case installs from: demo-pkg 1.0 and 1.1 as minimal wheels
(https://packaging.python.org/en/latest/specifications/binary-distribution-format/)."""

import sys
import zipfile
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(exist_ok=True)
for version in ("1.0", "1.1"):
    info = f"demo_pkg-{version}.dist-info"
    files = {
        "demo_pkg/__init__.py": f'VERSION = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: demo-pkg\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(out / f"demo_pkg-{version}-py3-none-any.whl", "w") as wheel:
        for name, text in {**files, f"{info}/RECORD": record}.items():
            wheel.writestr(name, text)
