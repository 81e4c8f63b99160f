fn main() {
    let count = 3;
    let label = "items";
    println!("{} {}", coutn, label);
}
