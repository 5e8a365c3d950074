//! The sending side of a [`Session`]: response heads and bodies within both windows, the
//! request body's window reopened as it is used, and a stream's end or reset.

use super::{ErrorCode, Session, flag, frame};

impl Session {
    /// `n` body bytes of `stream` were used: its window reopens (by half a window at a time).
    pub fn consumed(&mut self, stream: u32, n: usize) {
        let half = self.limits.initial_window / 2;
        let Some(s) = self.streams.iter_mut().find(|s| s.id == stream) else {
            return;
        };
        if s.whole {
            return;
        }
        s.consumed = s.consumed.saturating_add(n as u32);
        if s.consumed >= half.max(1) && !s.recv_closed {
            let inc = s.consumed;
            s.consumed = 0;
            s.recv_window += i64::from(inc);
            frame::put_window_update(&mut self.out, stream, inc);
        }
    }

    /// `stream`'s request reads its body whole as it comes (into memory or its temporary
    /// file, `*_request_buffering on`): as nginx's `no_flow_control`, its receive window
    /// opens to the maximum at once, and is topped up whenever it falls below a quarter
    /// of that; what it reads no longer reopens it.
    pub fn open_window(&mut self, stream: u32) {
        let Some(s) = self.streams.iter_mut().find(|s| s.id == stream) else {
            return;
        };
        if s.whole || s.recv_closed || s.skip_data {
            return;
        }
        s.whole = true;
        let inc = i64::from(frame::MAX_WINDOW) - s.recv_window;
        if inc > 0 {
            s.recv_window += inc;
            frame::put_window_update(&mut self.out, stream, inc as u32);
        }
    }

    /// Body bytes `stream` may send now (both windows).
    pub fn send_capacity(&self, stream: u32) -> usize {
        let Some(s) = self.streams.iter().find(|s| s.id == stream) else {
            return 0;
        };
        s.send_window.min(self.send_window).max(0) as usize
    }

    /// Whether `stream` is open (not reset, not finished).
    pub fn is_open(&self, stream: u32) -> bool {
        self.streams.iter().any(|s| s.id == stream)
    }

    /// Queues a response (or trailers) header block encoded with [`hpack::encode_status`]
    /// and [`hpack::encode_field`].
    pub fn send_headers(&mut self, stream: u32, block: &[u8], end_stream: bool) {
        if !self.is_open(stream) {
            return;
        }
        frame::put_headers(
            &mut self.out,
            stream,
            block,
            end_stream,
            self.peer_max_frame,
        );
        if end_stream {
            self.finish(stream);
        }
    }

    /// Queues as much of `data` as the windows allow, in DATA frames of at most
    /// `http2_chunk_size`; END_STREAM goes with the last byte when `end_stream`. Returns
    /// the bytes taken.
    pub fn send_data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> usize {
        self.send_data_sized(stream, data, end_stream, self.limits.chunk_size)
    }

    /// [`Session::send_data`] in frames of at most `chunk_size` (the stream's location's
    /// `http2_chunk_size`).
    pub fn send_data_sized(
        &mut self,
        stream: u32,
        data: &[u8],
        end_stream: bool,
        chunk_size: usize,
    ) -> usize {
        let frame_max = self.peer_max_frame.min(chunk_size).max(1);
        let mut sent = 0;
        loop {
            let room = self.send_capacity(stream);
            let n = (data.len() - sent).min(room).min(frame_max);
            let last = end_stream && sent + n == data.len();
            if n == 0 && !last {
                return sent;
            }
            if !self.is_open(stream) {
                return sent;
            }
            frame::put_header(
                &mut self.out,
                n,
                frame::kind::DATA,
                if last { flag::END_STREAM } else { 0 },
                stream,
            );
            self.out.extend_from_slice(&data[sent..sent + n]);
            sent += n;
            self.send_window -= n as i64;
            if let Some(s) = self.find(stream) {
                s.send_window -= n as i64;
            }
            if last {
                self.finish(stream);
                return sent;
            }
            if sent == data.len() {
                return sent;
            }
        }
    }

    /// Our side of `stream` is complete: it closes; a request body still coming is
    /// refused with RST_STREAM NO_ERROR (RFC 9113 8.1).
    fn finish(&mut self, stream: u32) {
        if let Some(s) = self.find(stream)
            && !s.recv_closed
        {
            frame::put_rst(&mut self.out, stream, ErrorCode::NoError);
        }
        self.remove(stream);
    }

    /// Resets `stream` (our stream error: its response failed, the request was refused).
    pub fn reset(&mut self, stream: u32, code: ErrorCode) {
        if self.is_open(stream) {
            frame::put_rst(&mut self.out, stream, code);
            self.remove(stream);
        }
    }
}
