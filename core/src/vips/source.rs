//! `CustomSource`: a libvips source whose bytes come from a Rust reader:
//! a body still arriving over the network, read as a pipe (libvips reads
//! it once, front to back, keeping the header bytes it sniffs), or bytes
//! in memory read through a reader that can seek ([`CustomSource::seekable`])
//! and check the call's deadline on every read.

use std::ffi::{c_int, c_void};
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use super::sys;
use crate::error::{Error, Result};

/// A reader libvips may also seek.
pub trait SeekRead: Read + Seek + Send {}

impl<T: Read + Seek + Send> SeekRead for T {}

/// A reader that cannot seek (a pipe): no seek handler is connected for it.
struct Pipe(Box<dyn Read + Send>);

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for Pipe {
    fn seek(&mut self, _: SeekFrom) -> std::io::Result<u64> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

type Reader = Mutex<Box<dyn SeekRead>>;

/// A `VipsSourceCustom` reading from a Rust reader. Loaders that take it
/// keep their own reference, so the handle may be dropped after the call.
pub struct CustomSource {
    ptr: *mut c_void,
}

// SAFETY: the source is only handed to libvips calls; its reader is behind
// a mutex and `Send`.
unsafe impl Send for CustomSource {}

impl CustomSource {
    /// A source whose bytes are read from `reader` as libvips asks for them.
    /// The reader may block; an I/O error fails the libvips call reading.
    pub fn new(reader: Box<dyn Read + Send>) -> Result<CustomSource> {
        CustomSource::connect(Box::new(Pipe(reader)), false)
    }

    /// A source whose bytes are read from `reader`, which libvips may also
    /// seek (rewind after reading a header, find the length): as a file.
    /// An I/O error of a read or seek fails the libvips call making it.
    pub fn seekable(reader: Box<dyn SeekRead>) -> Result<CustomSource> {
        CustomSource::connect(reader, true)
    }

    fn connect(reader: Box<dyn SeekRead>, seekable: bool) -> Result<CustomSource> {
        // SAFETY: creates a new object with one reference, ours.
        let ptr = unsafe { sys::vips_source_custom_new() };
        if ptr.is_null() {
            // SAFETY: clears the process-wide error buffer only.
            unsafe { sys::vips_error_clear() };
            return Err(Error::Internal("cannot create a libvips source".to_owned()));
        }
        let data = Box::into_raw(Box::new(Mutex::new(reader))) as *mut c_void;
        let handler: sys::SourceReadHandler = on_read;
        // SAFETY: `ptr` is live; the handler's data is the boxed reader,
        // freed by `release` when the read handler is disconnected (at the
        // latest when the source is finalised). Without a seek handler
        // libvips treats the source as a pipe and never seeks it.
        unsafe {
            sys::g_signal_connect_data(
                ptr,
                c"read".as_ptr(),
                handler as *const c_void,
                data,
                Some(release),
                0,
            );
        }
        if seekable {
            let handler: sys::SourceSeekHandler = on_seek;
            // SAFETY: as above; the seek handler shares the read handler's
            // data and frees nothing. GObject disconnects handlers in the
            // order they were connected, but both only run while libvips
            // reads the source, which holds the object (and so both) alive.
            unsafe {
                sys::g_signal_connect_data(
                    ptr,
                    c"seek".as_ptr(),
                    handler as *const c_void,
                    data,
                    None,
                    0,
                );
            }
        }
        Ok(CustomSource { ptr })
    }

    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl std::fmt::Debug for CustomSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomSource")
    }
}

impl Drop for CustomSource {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { sys::g_object_unref(self.ptr) }
    }
}

/// The `read` handler: never panics or unwinds into libvips.
unsafe extern "C" fn on_read(
    _source: *mut c_void,
    buffer: *mut c_void,
    length: i64,
    data: *mut c_void,
) -> i64 {
    if buffer.is_null() || length <= 0 {
        return 0;
    }
    // SAFETY: data is the boxed reader set in `new`, alive until `release`.
    let reader = unsafe { &*(data as *const Reader) };
    // SAFETY: libvips passes a writable buffer of `length` bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(buffer.cast::<u8>(), length as usize) };
    let read = catch_unwind(AssertUnwindSafe(|| {
        let mut r = reader.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match r.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }));
    match read {
        Ok(Ok(n)) => n as i64,
        _ => -1,
    }
}

/// The `seek` handler: never panics or unwinds into libvips.
unsafe extern "C" fn on_seek(
    _source: *mut c_void,
    offset: i64,
    whence: c_int,
    data: *mut c_void,
) -> i64 {
    let to = match whence {
        libc::SEEK_SET if offset >= 0 => SeekFrom::Start(offset as u64),
        libc::SEEK_CUR => SeekFrom::Current(offset),
        libc::SEEK_END => SeekFrom::End(offset),
        _ => return -1,
    };
    // SAFETY: data is the boxed reader set in `connect`, alive until
    // `release` (the read handler's notify, run when the source is
    // finalised; no seek can come after).
    let reader = unsafe { &*(data as *const Reader) };
    let moved = catch_unwind(AssertUnwindSafe(|| {
        reader.lock().unwrap_or_else(|p| p.into_inner()).seek(to)
    }));
    match moved {
        Ok(Ok(at)) => i64::try_from(at).unwrap_or(-1),
        _ => -1,
    }
}

/// Frees the reader `new` gave the handler.
unsafe extern "C" fn release(data: *mut c_void, _closure: *mut c_void) {
    // SAFETY: data came from Box::into_raw in `new`; GObject calls this
    // exactly once.
    drop(unsafe { Box::from_raw(data as *mut Reader) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vips::{Arg, Call, Image};

    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // A few bytes at a time, as a slow origin sends them.
            let n = buf.len().min(7).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    struct Broken;

    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("origin went away"))
        }
    }

    fn png() -> Vec<u8> {
        crate::vips::init().unwrap();
        let img = Image::black(37, 21, 3).unwrap();
        let out = Call::new("pngsave_buffer")
            .arg("in", Arg::Image(&img))
            .run()
            .unwrap();
        out.blob("buffer").unwrap().as_slice().to_vec()
    }

    #[test]
    fn a_loader_reads_a_trickling_source() {
        let data = png();
        let source = CustomSource::new(Box::new(Trickle(data, 0))).unwrap();
        let img: Image = Call::new("pngload_source")
            .arg("source", Arg::Source(&source))
            .run()
            .and_then(|o| o.out())
            .unwrap();
        drop(source);
        assert_eq!((img.width(), img.height()), (37, 21));
        assert_eq!(img.copy_memory().unwrap().width(), 37);
    }

    #[test]
    fn a_seekable_source_loads_interlaced_pngs_and_thumbnails() {
        crate::vips::init().unwrap();
        let img = Image::black(37, 21, 3).unwrap();
        let data = Call::new("pngsave_buffer")
            .arg("in", Arg::Image(&img))
            .arg("interlace", Arg::Bool(true))
            .run()
            .unwrap()
            .blob("buffer")
            .unwrap()
            .as_slice()
            .to_vec();
        let source =
            || CustomSource::seekable(Box::new(std::io::Cursor::new(data.clone()))).unwrap();
        let s = source();
        let img: Image = Call::new("pngload_source")
            .arg("source", Arg::Source(&s))
            .run()
            .and_then(|o| o.out())
            .unwrap();
        assert_eq!(img.copy_memory().unwrap().width(), 37);
        let s = source();
        let thumb: Image = Call::new("thumbnail_source")
            .arg("source", Arg::Source(&s))
            .arg("width", Arg::Int(10))
            .run()
            .and_then(|o| o.out())
            .unwrap();
        drop(s);
        assert_eq!(thumb.copy_memory().unwrap().width(), 10);
    }

    #[test]
    fn a_reader_error_fails_the_load() {
        let source = CustomSource::new(Box::new(Broken)).unwrap();
        let r: Result<Image> = Call::new("pngload_source")
            .arg("source", Arg::Source(&source))
            .run()
            .and_then(|o| o.out());
        assert!(r.is_err());
    }
}
