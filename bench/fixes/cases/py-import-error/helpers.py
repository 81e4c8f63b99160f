def parse_arguments() -> list[str]:
    return []
