//! TODO(issue 2): session semantics.
