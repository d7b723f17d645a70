//! TODO(issue 2): config semantics.
