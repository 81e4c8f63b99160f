class Square:
    def __init__(self, side: float) -> None:
        self.side = side

    def area(self) -> float:
        return self.side * self.side


def total(shapes: list[Square]) -> float:
    return sum(s.aera() for s in shapes)
