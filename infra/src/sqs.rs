//! sqs adapter (in progress).
