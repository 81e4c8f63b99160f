from helpers import parse_args

print(parse_args())
