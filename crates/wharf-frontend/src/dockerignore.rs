//! Docker `.dockerignore` matching.
