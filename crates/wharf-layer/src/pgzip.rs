//! Parallel gzip: one gzip member made of independently compressed blocks, in the
//! style of pigz.
//!
//! The uncompressed stream is cut into fixed-size blocks. Each block is deflated
//! on a worker thread with the previous block's last 32 KiB as preset dictionary
//! and ends with a sync flush (an empty stored block), so the blocks concatenate
//! into one valid raw deflate stream; a final empty fixed block closes it. The
//! CRC-32 and length of the trailer are computed on the calling thread.
//!
//! The output depends only on the level and block size, never on the number of
//! threads or on timing, so layers are byte-identical across machines. No crate
//! offers this on top of flate2's zlib-rs backend (gzp pulls in another deflate
//! implementation and abandons determinism across thread counts), hence this module.

use flate2::{Compress, Compression as Level, FlushCompress};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Default block size: large enough to keep per-block overhead negligible,
/// small enough to keep all cores busy on modest layers.
pub const DEFAULT_BLOCK_SIZE: usize = 256 * 1024;
const DICT_SIZE: usize = 32 * 1024;
/// gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS "unknown"
/// (fixed so that output does not depend on the host).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// A final, empty, fixed-Huffman deflate block.
const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

struct Job {
    seq: u64,
    dict: Arc<Vec<u8>>,
    data: Arc<Vec<u8>>,
}

type JobResult = (u64, io::Result<Vec<u8>>);

/// A `Write` that gzip-compresses on several threads. Call [`ParallelGzipWriter::finish`].
pub struct ParallelGzipWriter<W: Write> {
    inner: Option<W>,
    block_size: usize,
    block: Vec<u8>,
    prev: Arc<Vec<u8>>,
    crc: crc32fast::Hasher,
    total: u64,
    next_seq: u64,
    next_to_write: u64,
    in_flight: usize,
    max_in_flight: usize,
    done: VecDeque<(u64, Vec<u8>)>,
    jobs: Option<SyncSender<Job>>,
    results: Receiver<JobResult>,
    workers: Vec<JoinHandle<()>>,
    header_written: bool,
}

impl<W: Write> ParallelGzipWriter<W> {
    /// Creates a writer with `threads` compression workers (at least one),
    /// compression `level` 0–9 and the given block size.
    pub fn new(inner: W, level: u32, threads: usize, block_size: usize) -> Self {
        let threads = threads.max(1);
        let block_size = block_size.max(DICT_SIZE);
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (res_tx, res_rx) = mpsc::channel::<JobResult>();
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&job_rx);
                let tx: Sender<JobResult> = res_tx.clone();
                std::thread::spawn(move || worker(level.min(9), rx, tx))
            })
            .collect();
        ParallelGzipWriter {
            inner: Some(inner),
            block_size,
            block: Vec::with_capacity(block_size),
            prev: Arc::new(Vec::new()),
            crc: crc32fast::Hasher::new(),
            total: 0,
            next_seq: 0,
            next_to_write: 0,
            in_flight: 0,
            max_in_flight: threads * 3,
            done: VecDeque::new(),
            jobs: Some(job_tx),
            results: res_rx,
            workers,
            header_written: false,
        }
    }

    fn inner(&mut self) -> io::Result<&mut W> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::other("parallel gzip writer used after finish"))
    }

    fn submit_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let data = Arc::new(std::mem::replace(
            &mut self.block,
            Vec::with_capacity(self.block_size),
        ));
        let job = Job {
            seq: self.next_seq,
            dict: Arc::clone(&self.prev),
            data: Arc::clone(&data),
        };
        // The next block's dictionary is the tail of this one.
        let tail_start = data.len().saturating_sub(DICT_SIZE);
        self.prev = Arc::new(data[tail_start..].to_vec());
        self.next_seq += 1;
        while self.in_flight >= self.max_in_flight {
            self.collect_one()?;
        }
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("parallel gzip writer used after finish"))?
            .send(job)
            .map_err(|_| io::Error::other("gzip worker thread stopped"))?;
        self.in_flight += 1;
        Ok(())
    }

    /// Waits for one result and writes every block that is now in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let (seq, res) = self
            .results
            .recv()
            .map_err(|_| io::Error::other("gzip worker thread stopped"))?;
        self.in_flight -= 1;
        let out = res?;
        let pos = self
            .done
            .iter()
            .position(|(s, _)| *s > seq)
            .unwrap_or(self.done.len());
        self.done.insert(pos, (seq, out));
        while self
            .done
            .front()
            .is_some_and(|(s, _)| *s == self.next_to_write)
        {
            if let Some((_, bytes)) = self.done.pop_front() {
                self.inner()?.write_all(&bytes)?;
                self.next_to_write += 1;
            }
        }
        Ok(())
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.inner()?.write_all(&GZIP_HEADER)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Flushes every block, writes the gzip trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write_header()?;
        self.submit_block()?;
        while self.in_flight > 0 {
            self.collect_one()?;
        }
        let crc = std::mem::take(&mut self.crc).finalize();
        let isize = (self.total & 0xffff_ffff) as u32;
        let inner = self.inner()?;
        inner.write_all(&FINAL_EMPTY_BLOCK)?;
        inner.write_all(&crc.to_le_bytes())?;
        inner.write_all(&isize.to_le_bytes())?;
        inner.flush()?;
        self.shutdown();
        self.inner
            .take()
            .ok_or_else(|| io::Error::other("parallel gzip writer finished twice"))
    }

    fn shutdown(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl<W: Write> Drop for ParallelGzipWriter<W> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<W: Write> Write for ParallelGzipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_header()?;
        let room = self.block_size - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        self.crc.update(&buf[..n]);
        self.total += n as u64;
        if self.block.len() == self.block_size {
            self.submit_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn worker(level: u32, jobs: Arc<Mutex<Receiver<Job>>>, results: Sender<JobResult>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        // A fresh state per block: a reset state is not guaranteed to match a
        // new one bit for bit, and output must not depend on which worker ran.
        let mut compress = Compress::new(Level::new(level), false);
        let out = deflate_block(&mut compress, &job.dict, &job.data);
        if results.send((job.seq, out)).is_err() {
            return;
        }
    }
}

/// Deflates one block, ending with a sync flush so that blocks concatenate.
fn deflate_block(c: &mut Compress, dict: &[u8], data: &[u8]) -> io::Result<Vec<u8>> {
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 1024);
    let start_in = c.total_in();
    loop {
        let consumed = usize::try_from(c.total_in() - start_in).map_err(io::Error::other)?;
        c.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(c.total_in() - start_in).map_err(io::Error::other)?;
        // zlib semantics: the flush is complete once all input is taken and the
        // output buffer was not filled to the brim.
        if consumed == data.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(64 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::MultiGzDecoder;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a pseudo-random walk over a small alphabet.
        let mut x: u32 = 12345;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b"abcdefgh \n"[(x >> 16) as usize % 10]
            })
            .collect()
    }

    fn compress(data: &[u8], threads: usize, block: usize) -> Vec<u8> {
        let mut w = ParallelGzipWriter::new(Vec::new(), 6, threads, block);
        for chunk in data.chunks(7777) {
            w.write_all(chunk).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_and_is_single_member() {
        let data = sample(1_000_000);
        let gz = compress(&data, 3, 64 * 1024);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        assert!(
            gz.len() < data.len() / 2,
            "compressed {} of {}",
            gz.len(),
            data.len()
        );
    }

    #[test]
    fn output_does_not_depend_on_thread_count() {
        let data = sample(700_000);
        let one = compress(&data, 1, 64 * 1024);
        let four = compress(&data, 4, 64 * 1024);
        assert!(
            one == four,
            "outputs differ ({} vs {} bytes)",
            one.len(),
            four.len()
        );
    }

    #[test]
    fn empty_input_is_valid_gzip() {
        let gz = compress(b"", 2, DEFAULT_BLOCK_SIZE);
        let mut out = Vec::new();
        MultiGzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "runs Debian's gzip, a Linux program that Windows (and Wine) cannot start"
    )]
    fn gzip_command_accepts_output() {
        let data = sample(300_000);
        let gz = compress(&data, 2, 64 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        std::fs::write(&p, &gz).unwrap();
        let status = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&p)
            .status()
            .expect("gzip is an essential Debian package");
        assert!(status.success(), "gzip -t rejected the stream");
    }
}
