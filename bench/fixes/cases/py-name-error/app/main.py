def summarize(values: list[int]) -> str:
    average = sum(values) / len(values)
    return f"mean {averge:.2f}"


print(summarize([1, 2, 3]))
