fn main() {
    println!("{}", greet::hello());
}
