//! Configuration: lexer → directive tree (with `include`) → directive table → typed settings.
pub mod error;
pub mod glob;
pub mod lexer;
pub mod parser;
pub mod settings;
pub use error::ConfError;
pub use settings::*;
