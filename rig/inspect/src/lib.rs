//! Flash dump decoder.
