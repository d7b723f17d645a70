//! Any bytes as one inbound DDP text frame: decoded or dropped, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = backend_rocketchat::fuzzing::ddp_frame(data);
});
