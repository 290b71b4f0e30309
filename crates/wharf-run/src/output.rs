//! A RUN command's output, from the chunks its pipes deliver to the lines
//! the build's progress shows, keeping the last lines for the message of a
//! failed command. Shared by the Linux and Windows executors.

use crate::seam::{OutputLine, RunError};
use std::collections::VecDeque;

/// How many lines of output a failure message repeats.
pub const TAIL_LINES: usize = 15;

/// A line longer than this without a newline is shown in pieces.
const MAX_LINE: usize = 64 << 10;

/// Splits output chunks into lines, per stream.
pub struct LineSink<'a> {
    out: &'a dyn Fn(OutputLine<'_>),
    partial: [Vec<u8>; 2],
    tail: VecDeque<String>,
}

impl<'a> LineSink<'a> {
    /// Lines go to `out`.
    pub fn new(out: &'a dyn Fn(OutputLine<'_>)) -> Self {
        LineSink {
            out,
            partial: [Vec::new(), Vec::new()],
            tail: VecDeque::new(),
        }
    }

    /// Takes a chunk of standard output (or error, when `stderr`).
    pub fn push(&mut self, stderr: bool, bytes: &[u8]) {
        let i = usize::from(stderr);
        self.partial[i].extend_from_slice(bytes);
        while let Some(n) = self.partial[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[i].drain(..=n).collect();
            self.emit(stderr, &line[..line.len() - 1]);
        }
        if self.partial[i].len() > MAX_LINE {
            let line = std::mem::take(&mut self.partial[i]);
            self.emit(stderr, &line);
        }
    }

    fn emit(&mut self, stderr: bool, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        (self.out)(OutputLine { stderr, text });
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(text.to_string());
    }

    /// Passes on what is left without a final newline.
    pub fn finish(&mut self) {
        for stderr in [false, true] {
            let line = std::mem::take(&mut self.partial[usize::from(stderr)]);
            if !line.is_empty() {
                self.emit(stderr, &line);
            }
        }
    }

    /// The message for a command that failed with `status`, with its last
    /// lines of output.
    pub fn failure(&self, status: &str) -> RunError {
        RunError::Failed(self.failure_text(status))
    }

    fn failure_text(&self, status: &str) -> String {
        let mut msg = format!("the command failed ({status})");
        if !self.tail.is_empty() {
            msg.push_str("; its last output:");
            for l in &self.tail {
                msg.push_str("\n  ");
                msg.push_str(l);
            }
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn output_is_split_into_lines_per_stream_and_the_tail_is_kept() {
        let seen = RefCell::new(Vec::new());
        let out = |l: OutputLine<'_>| seen.borrow_mut().push((l.stderr, l.text.to_string()));
        let mut sink = LineSink::new(&out);
        sink.push(false, b"one\ntw");
        sink.push(true, b"err\r\n");
        sink.push(false, b"o\nthree");
        sink.finish();
        assert_eq!(
            *seen.borrow(),
            [
                (false, "one".to_string()),
                (true, "err".to_string()),
                (false, "two".to_string()),
                (false, "three".to_string())
            ]
        );
        for i in 0..40 {
            sink.push(false, format!("line {i}\n").as_bytes());
        }
        let msg = sink.failure("exit code 2").to_string();
        assert!(msg.starts_with("the command failed (exit code 2); its last output:"));
        assert_eq!(msg.lines().count(), 1 + TAIL_LINES, "{msg}");
        assert!(msg.ends_with("\n  line 39"), "{msg}");
        assert!(!msg.contains("line 24\n"), "{msg}");
    }

    #[test]
    fn a_long_line_without_newline_comes_in_pieces() {
        let seen = RefCell::new(0usize);
        let out = |_: OutputLine<'_>| *seen.borrow_mut() += 1;
        let mut sink = LineSink::new(&out);
        sink.push(false, &vec![b'x'; MAX_LINE + 1]);
        assert_eq!(*seen.borrow(), 1);
        assert_eq!(sink.failure("x").to_string().lines().count(), 2);
    }
}
