//! The unsafe there is.
