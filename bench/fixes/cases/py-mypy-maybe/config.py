import json
from typing import Any


def load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.lods(text)
    return data
