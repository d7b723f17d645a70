//! Any bytes, split on newlines, as a sequence of inbound frames through the decoder and one
//! mapper (stateful: edits, reactions, deletes, duplicates), and again as bare message
//! documents (a catch-up): mapped or dropped, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = backend_rocketchat::fuzzing::map_frames(data.split(|b| *b == b'\n'));
    let _ = backend_rocketchat::fuzzing::map_documents(data.split(|b| *b == b'\n'));
});
