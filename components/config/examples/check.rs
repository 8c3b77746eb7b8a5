fn main() {
    for p in std::env::args().skip(1) {
        match triad_config::Cluster::load(&p) { Ok(_) => println!("{p}: ok"), Err(e) => println!("{e}") }
    }
}
