//! aws adapter (in progress).
