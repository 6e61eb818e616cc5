//! Spot REST client (in progress).
