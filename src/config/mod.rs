//! Configuration: lexer → directive tree (with `include`) → directive table → typed settings.
pub mod settings;
pub use settings::*;
