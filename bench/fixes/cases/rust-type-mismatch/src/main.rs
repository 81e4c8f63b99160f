struct Config {
    retries: u32,
}

fn main() {
    let config = Config { retries: "three" };
    println!("{}", config.retries);
}
