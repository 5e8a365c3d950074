//! The upstream side of a request, whatever protocol it speaks: choosing a server
//! ([`balancer`]), the per-worker keep-alive [`pool`], a request body read whole before
//! connecting ([`body_buffer`]), and the tries as `$upstream_*` shows them ([`log`]).

pub mod balancer;
pub mod body_buffer;
pub mod log;
pub mod pool;
