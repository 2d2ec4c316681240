// A Rust allocation site behind #[inline(never)] (tests/it_sites_pprof.sh builds it with the
// legacy and the v0 symbol mangling and checks both are demangled). No crates: plain rustc.
use std::io::Read;

mod cache {
    #[inline(never)]
    pub fn grow_cache(store: &mut Vec<Vec<u8>>, n: usize) {
        store.push(vec![7u8; n]);
    }
}

fn main() {
    let mut store = Vec::new();
    for _ in 0..16 {
        cache::grow_cache(&mut store, 1 << 20);
    }
    println!("ready");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    println!("{}", store.len());
}
