/work/main/target-old/wasm32-unknown-unknown/snippet/deps/edge_exp_snippet.d: snippet/src/lib.rs snippet/src/action.rs snippet/src/batch.rs snippet/src/dispatch.rs snippet/src/goals.rs snippet/src/js.rs snippet/src/net.rs snippet/src/send.rs snippet/src/state.rs

/work/main/target-old/wasm32-unknown-unknown/snippet/deps/edge_exp_snippet.wasm: snippet/src/lib.rs snippet/src/action.rs snippet/src/batch.rs snippet/src/dispatch.rs snippet/src/goals.rs snippet/src/js.rs snippet/src/net.rs snippet/src/send.rs snippet/src/state.rs

/work/main/target-old/wasm32-unknown-unknown/snippet/deps/libedge_exp_snippet.rlib: snippet/src/lib.rs snippet/src/action.rs snippet/src/batch.rs snippet/src/dispatch.rs snippet/src/goals.rs snippet/src/js.rs snippet/src/net.rs snippet/src/send.rs snippet/src/state.rs

snippet/src/lib.rs:
snippet/src/action.rs:
snippet/src/batch.rs:
snippet/src/dispatch.rs:
snippet/src/goals.rs:
snippet/src/js.rs:
snippet/src/net.rs:
snippet/src/send.rs:
snippet/src/state.rs:

# env-dep:CARGO_PKG_VERSION=0.1.0
