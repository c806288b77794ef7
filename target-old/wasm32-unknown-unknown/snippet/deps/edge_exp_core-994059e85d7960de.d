/work/main/target-old/wasm32-unknown-unknown/snippet/deps/edge_exp_core-994059e85d7960de.d: core/src/lib.rs core/src/matcher.rs

/work/main/target-old/wasm32-unknown-unknown/snippet/deps/libedge_exp_core-994059e85d7960de.rlib: core/src/lib.rs core/src/matcher.rs

/work/main/target-old/wasm32-unknown-unknown/snippet/deps/libedge_exp_core-994059e85d7960de.rmeta: core/src/lib.rs core/src/matcher.rs

core/src/lib.rs:
core/src/matcher.rs:
