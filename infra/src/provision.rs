//! provision adapter (in progress).
