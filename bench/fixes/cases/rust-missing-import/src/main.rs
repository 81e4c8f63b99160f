fn main() {
    let mut seen = HashMap::new();
    seen.insert("a", 1);
    println!("{:?}", seen.get("a"));
}
