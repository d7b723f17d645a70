//! TODO(issue 2): policy semantics.
