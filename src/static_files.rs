//! Static files
