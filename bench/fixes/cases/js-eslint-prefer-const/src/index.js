let limit = 3;
if (limit == "3") {
  console.log(limit);
}
