//! TODO(issue 2): threading semantics.
