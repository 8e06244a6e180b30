fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("hello 1.0.0");
        return;
    }
    println!("Hello from a Rust binary");
}
