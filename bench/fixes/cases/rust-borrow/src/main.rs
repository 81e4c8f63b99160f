fn shout(text: &String) -> String {
    text.to_uppercase()
}

fn main() {
    let name = String::from("ci");
    println!("{}", shout(name));
}
