//! Simulated board.
