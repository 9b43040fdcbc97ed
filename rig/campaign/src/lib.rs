//! Campaign and station files.
