//! dynamo adapter (in progress).
