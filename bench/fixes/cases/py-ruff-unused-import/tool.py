import json
import sys
from pathlib import Path


def main() -> int:
    print(Path(sys.argv[0]).name)
    return 0
