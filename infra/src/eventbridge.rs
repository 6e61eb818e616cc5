//! eventbridge adapter (in progress).
