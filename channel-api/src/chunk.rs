//! TODO(issue 2): chunk semantics.
