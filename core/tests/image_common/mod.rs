//! Shared helpers of the tests that make and read images with libvips
//! directly: test data, encoding with a libvips saver, decoding any
//! output.
#![allow(dead_code)] // each test binary uses a different part of this module

use imagor::vips::{Arg, Blob, Call, Image};

/// The bytes of `testdata/{name}`.
pub fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))).expect("testdata")
}

/// `img` encoded by the libvips buffer saver `saver` (`pngsave_buffer`).
pub fn encode(img: &Image, saver: &str) -> Vec<u8> {
    encode_with(img, saver, &[])
}

/// `img` encoded by the libvips buffer saver `saver` with `options`.
pub fn encode_with(img: &Image, saver: &str, options: &[(&str, Arg)]) -> Vec<u8> {
    let mut call = Call::new(saver).arg("in", Arg::Image(img));
    for (name, value) in options {
        call = call.arg(name, *value);
    }
    call.run()
        .unwrap()
        .blob("buffer")
        .unwrap()
        .as_slice()
        .to_vec()
}

/// `data` decoded by the libvips loader that recognises it (first frame).
pub fn decode(data: &[u8]) -> Image {
    let loader = Image::find_loader(data).expect("an image libvips loads");
    Call::new(&loader)
        .arg("buffer", Arg::Blob(&Blob::copy_from(data)))
        .run()
        .unwrap()
        .out()
        .unwrap()
}

/// `n` bytes of noise (xorshift from `seed`).
pub fn noise(n: i32, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The Adobe RGB profile of a test JPEG (one APP2 segment), grown to
/// `size` bytes with zeros after its tags (its header says so).
pub fn padded_rgb_profile(size: usize) -> Vec<u8> {
    let jpeg = testdata("jpg-24bit-icc-adobe-rgb.jpg");
    let at = jpeg
        .windows(12)
        .position(|w| w == b"ICC_PROFILE\0")
        .expect("an ICC segment");
    let len = u16::from_be_bytes([jpeg[at - 2], jpeg[at - 1]]) as usize;
    let mut icc = jpeg[at + 14..at - 2 + len].to_vec();
    assert_eq!(&icc[36..40], b"acsp");
    icc.resize(size, 0);
    icc[..4].copy_from_slice(&(size as u32).to_be_bytes());
    icc
}

/// An 8x8 RGB TIFF whose ICC profile tag holds `icc` (none when empty).
pub fn tiff_with_profile(icc: &[u8]) -> Vec<u8> {
    tiff_with_blob((34675, 7), icc)
}

/// An 8x8 RGB TIFF whose tag `tag` of type `ty` (after the baseline tags)
/// holds `icc` (no such tag when empty).
pub fn tiff_with_blob((tag, ty): (u16, u16), icc: &[u8]) -> Vec<u8> {
    let pixels: Vec<u8> = (0..8 * 8 * 3).map(|i| (i * 5) as u8).collect();
    let n = if icc.is_empty() { 9 } else { 10 };
    // Header, the entries, next-IFD link, bits per sample, pixels, profile.
    let ifd_end = 8 + 2 + n * 12 + 4;
    let (bits_at, pixels_at) = (ifd_end, ifd_end + 6);
    let icc_at = pixels_at + pixels.len();
    let entries: [(u16, u16, u32, u32); 10] = [
        (256, 3, 1, 8),
        (257, 3, 1, 8),
        (258, 3, 3, bits_at as u32),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, pixels_at as u32),
        (277, 3, 1, 3),
        (278, 3, 1, 8),
        (279, 4, 1, pixels.len() as u32),
        (tag, ty, icc.len() as u32, icc_at as u32),
    ];
    let mut out = b"II*\0\x08\0\0\0".to_vec();
    out.extend((n as u16).to_le_bytes());
    let mut entries = entries[..n].to_vec();
    entries.sort();
    for (tag, ty, count, value) in &entries {
        out.extend(tag.to_le_bytes());
        out.extend(ty.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(value.to_le_bytes());
    }
    out.extend([0; 4]);
    out.extend([8, 0, 8, 0, 8, 0]);
    out.extend(&pixels);
    out.extend(icc);
    out
}

/// `jpeg` with `icc` in APP2 segments after its SOI.
pub fn with_icc_segments(jpeg: &[u8], icc: &[u8]) -> Vec<u8> {
    let parts: Vec<&[u8]> = icc.chunks(65_519).collect();
    let mut out = jpeg[..2].to_vec();
    for (i, part) in parts.iter().enumerate() {
        out.extend([0xFF, 0xE2]);
        out.extend(((part.len() + 16) as u16).to_be_bytes());
        out.extend(b"ICC_PROFILE\0");
        out.extend([i as u8 + 1, parts.len() as u8]);
        out.extend(*part);
    }
    out.extend(&jpeg[2..]);
    out
}

/// An ICC profile whose tag table has `n` entries, each at its own 4-byte
/// `mpet` body (200 000 in a JPEG: 3.2 MB, 4.3 s of counting before the
/// count was bounded to the tags LittleCMS reads).
pub fn mpet_table_profile(n: usize) -> Vec<u8> {
    let bodies = 132 + 12 * n;
    let mut icc = padded_rgb_profile(128);
    icc.extend((n as u32).to_be_bytes());
    for i in 0..n {
        icc.extend(b"D2B0");
        icc.extend(((bodies + 4 * i) as u32).to_be_bytes());
        icc.extend(4u32.to_be_bytes());
    }
    icc.extend(b"mpet".repeat(n));
    let size = icc.len() as u32;
    icc[..4].copy_from_slice(&size.to_be_bytes());
    icc
}

/// The CRC-32 of `data` (PNG chunks, zlib's polynomial).
pub fn crc32(data: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8)
    })
}
