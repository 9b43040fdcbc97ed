//! cutpoint library.
