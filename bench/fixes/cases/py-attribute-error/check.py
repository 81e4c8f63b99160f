import os.path


def main() -> None:
    here = os.path.dirname(__file__)
    print(os.path.joinn(here, "data"))


main()
