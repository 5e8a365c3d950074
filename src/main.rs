fn main() {
    std::process::exit(portico::cli::main());
}
