/work/main/target-old/wasm32-unknown-unknown/snippet/deps/scopeguard-2d410807760be7d0.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/scopeguard-1.2.0/src/lib.rs

/work/main/target-old/wasm32-unknown-unknown/snippet/deps/libscopeguard-2d410807760be7d0.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/scopeguard-1.2.0/src/lib.rs

/work/main/target-old/wasm32-unknown-unknown/snippet/deps/libscopeguard-2d410807760be7d0.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/scopeguard-1.2.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/scopeguard-1.2.0/src/lib.rs:
