//! TODO(issue 2): command semantics.
