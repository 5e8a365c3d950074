//! HTTP/1.x: request heads, bodies, URIs, response heads, dates, error pages.
