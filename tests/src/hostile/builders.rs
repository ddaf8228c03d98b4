//! Builders of hostile files: hand-written headers and streams (PNG with a
//! deflate writer, GIF, BMP, JPEG markers, TIFF, JPEG 2000, WebP RIFF
//! chunks, PDF objects, SVG documents) and a few real images made with
//! libvips. Recipes follow `shared/docs/SECURITY-NOTES.md` §2.4.

use imagor::vips::{Arg, BandFormat, Call, Image};

pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Bits of a deflate stream, least significant first.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.acc |= ((value >> i) & 1) << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
}

/// zlib stream of `n` zero bytes at deflate's densest: one dynamic-Huffman
/// block whose length-258 and distance-1 codes are one bit each, two bits
/// per 258 bytes (1 GiB in 1 MB, as zlib's own level 9).
pub(crate) fn zlib_zeros_dense(n: usize) -> Vec<u8> {
    let mut b = Bits {
        out: vec![0x78, 0xDA],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(2, 2); // dynamic Huffman
    b.put(29, 5); // HLIT: 286 literal/length codes
    b.put(0, 5); // HDIST: 1 distance code
    b.put(14, 4); // HCLEN: 18 code-length code lengths
                  // In deflate's order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1:
                  // symbol 18 (a run of zeros) 1 bit, lengths 1 and 2 two bits each.
    for len in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] {
        b.put(len, 3);
    }
    // Canonical codes: 18 -> 0, 1 -> 10, 2 -> 11.
    let zeros = |b: &mut Bits, count: u32| {
        b.code(0, 1);
        b.put(count - 11, 7);
    };
    b.code(0b11, 2); // literal 0: two bits
    zeros(&mut b, 138);
    zeros(&mut b, 117); // literals 1-255: none
    b.code(0b11, 2); // end of block: two bits
    zeros(&mut b, 28); // lengths 257-284: none
    b.code(0b10, 2); // length 285 (258): one bit
    b.code(0b10, 2); // distance 1: one bit
                     // Literal/length codes: 285 -> 0, literal 0 -> 10, end of block -> 11.
    let mut left = n;
    if left > 0 {
        b.code(0b10, 2);
        left -= 1;
    }
    while left >= 258 {
        b.code(0, 1);
        b.code(0, 1);
        left -= 258;
    }
    for _ in 0..left {
        b.code(0b10, 2);
    }
    b.code(0b11, 2);
    if b.n > 0 {
        b.out.push(b.acc as u8);
    }
    let adler = (((n % 65521) as u32) << 16) | 1;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

/// zlib stream of `raw` as it is, in stored blocks.
pub(crate) fn zlib_stored(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// zlib stream of `n` zero bytes: one fixed-Huffman block of a literal 0
/// followed by length-258/distance-1 copies (13 bits per 258 bytes), so a
/// 400 MB bomb is ~2.5 MB.
pub(crate) fn zlib_zeros(n: usize) -> Vec<u8> {
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // fixed Huffman
    let lit0 = |b: &mut Bits| b.code(0x30, 8);
    let mut left = n;
    if left > 0 {
        lit0(&mut b);
        left -= 1;
    }
    while left >= 258 {
        b.code(0xC5, 8); // length symbol 285 = 258
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        lit0(&mut b);
    }
    b.code(0, 7); // end of block
    if b.n > 0 {
        b.out.push(b.acc as u8);
    }
    let adler = (((n % 65521) as u32) << 16) | 1;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

pub(crate) fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(data);
    let mut crc_in = kind.to_vec();
    crc_in.extend_from_slice(data);
    v.extend_from_slice(&crc32(&crc_in).to_be_bytes());
    v
}

/// 8-bit greyscale PNG with the given IHDR size and IDAT.
pub(crate) fn png(w: u32, h: u32, idat: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend(chunk(b"IHDR", &ihdr));
    v.extend_from_slice(extra);
    v.extend(chunk(b"IDAT", idat));
    v.extend(chunk(b"IEND", b""));
    v
}

pub(crate) fn gif(sw: u16, sh: u16, frames: usize, fw: u16, fh: u16) -> Vec<u8> {
    let mut b = b"GIF89a".to_vec();
    for v in [sw, sh] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
    b.extend_from_slice(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0");
    for _ in 0..frames {
        b.extend_from_slice(b"\x21\xf9\x04\0\x01\0\0\0\x2c\0\0\0\0");
        b.extend_from_slice(&fw.to_le_bytes());
        b.extend_from_slice(&fh.to_le_bytes());
        b.extend_from_slice(b"\0\x02\x02\x44\x01\0");
    }
    b.push(0x3b);
    b
}

pub(crate) fn bmp(w: i32, h: i32, bpp: u16, payload: &[u8]) -> Vec<u8> {
    let mut dib = Vec::new();
    dib.extend_from_slice(&40u32.to_le_bytes());
    dib.extend_from_slice(&w.to_le_bytes());
    dib.extend_from_slice(&h.to_le_bytes());
    dib.extend_from_slice(&1u16.to_le_bytes());
    dib.extend_from_slice(&bpp.to_le_bytes());
    dib.extend_from_slice(&0u32.to_le_bytes());
    dib.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    for v in [2835u32, 2835, 0, 0] {
        dib.extend_from_slice(&v.to_le_bytes());
    }
    let off = 14 + dib.len() as u32;
    let mut v = b"BM".to_vec();
    v.extend_from_slice(&(off + payload.len() as u32).to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&off.to_le_bytes());
    v.extend(dib);
    v.extend_from_slice(payload);
    v
}

/// A JPEG marker segment.
pub(crate) fn seg(marker: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff, marker];
    v.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(data);
    v
}

pub(crate) fn sof2_65535() -> Vec<u8> {
    let mut v = b"\xff\xd8".to_vec();
    let mut dqt = vec![0];
    dqt.extend_from_slice(&[1; 64]);
    v.extend(seg(0xDB, &dqt));
    v.extend(seg(0xC2, &[8, 0xff, 0xff, 0xff, 0xff, 1, 1, 0x11, 0]));
    let mut dht = vec![0, 1];
    dht.extend_from_slice(&[0; 16]);
    v.extend(seg(0xC4, &dht));
    v.extend(seg(0xDA, &[1, 1, 0, 0, 0, 0]));
    v.extend_from_slice(&[0; 16]);
    v.extend_from_slice(b"\xff\xd9");
    v
}

pub(crate) fn save(img: &Image, saver: &str, flags: &[(&str, bool)]) -> Vec<u8> {
    let mut call = Call::new(saver).arg("in", Arg::Image(img));
    for (name, value) in flags {
        call = call.arg(name, Arg::Bool(*value));
    }
    call.run()
        .and_then(|o| o.blob("buffer"))
        .map(|b| b.as_slice().to_vec())
        .expect("libvips encodes the corpus")
}

/// `w` x `h` of RGBA noise as a CMYK TIFF with alpha, tagged with
/// libvips' CMYK profile (which libvips 8.14 left on the sRGB pixels it
/// converted such a source to).
pub(crate) fn cmyk_alpha_tiff(w: i32, h: i32, noise: &[u8]) -> Vec<u8> {
    let rgba = Image::from_memory(noise, w, h, 4, BandFormat::UCHAR)
        .and_then(|i| i.copy_as(Some(imagor::vips::Interpretation::SRGB)))
        .and_then(|i| i.colourspace(imagor::vips::Interpretation::CMYK))
        .expect("vips CMYK");
    save(&rgba, "tiffsave_buffer", &[])
}

/// A small valid JPEG with an APP1 segment spliced in after SOI.
pub(crate) fn jpeg_with_app1(app1: &[u8]) -> Vec<u8> {
    let base = Image::black(64, 48, 3).expect("vips black");
    let clean = save(&base, "jpegsave_buffer", &[]);
    let mut v = clean[..2].to_vec();
    v.extend(seg(0xE1, app1));
    v.extend_from_slice(&clean[2..]);
    v
}

/// `jpeg` with `n` segments of `marker` (4 bytes of body each) after its
/// SOI, or before its second scan when `between_scans`.
pub(crate) fn with_jpeg_segments(
    jpeg: &[u8],
    marker: u8,
    n: usize,
    between_scans: bool,
) -> Vec<u8> {
    let at = if between_scans {
        let sos = |from: usize| {
            from + jpeg[from..]
                .windows(2)
                .position(|w| w == [0xFF, 0xDA])
                .expect("a scan")
        };
        sos(sos(2) + 2)
    } else {
        2
    };
    let one = seg(marker, b"meta");
    let mut v = Vec::with_capacity(jpeg.len() + n * one.len());
    v.extend_from_slice(&jpeg[..at]);
    for _ in 0..n {
        v.extend_from_slice(&one);
    }
    v.extend_from_slice(&jpeg[at..]);
    v
}

pub(crate) fn exif(body: &[u8]) -> Vec<u8> {
    let mut v = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    v.extend_from_slice(body);
    v
}

/// A PDF from object bodies (object i+1 = bodies[i]), with a valid xref.
pub(crate) fn pdf(bodies: &[String]) -> Vec<u8> {
    let mut v = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        offsets.push(v.len());
        v.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = v.len();
    v.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", bodies.len() + 1).as_bytes());
    for o in offsets {
        v.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    v.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            bodies.len() + 1
        )
        .as_bytes(),
    );
    v
}

pub(crate) fn pdf_pages(kids: &str, count: usize, extra: Vec<String>) -> Vec<u8> {
    let mut bodies = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!("<< /Type /Pages /Kids [{kids}] /Count {count} >>"),
    ];
    bodies.extend(extra);
    pdf(&bodies)
}

pub(crate) fn svg(attrs: &str, body: &str) -> Vec<u8> {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" {attrs}>{body}</svg>"
    )
    .into_bytes()
}

/// PackBits runs of `n` zero bytes (TIFF compression 32773).
fn packbits_zeros(mut n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n / 64 + 2);
    while n > 0 {
        let run = n.min(128);
        v.push((1i16 - run as i16) as u8);
        v.push(0);
        n -= run;
    }
    v
}

/// A little-endian TIFF, one PackBits strip of zeros, `spp` 8-bit samples
/// per pixel (minisblack, the extra samples unspecified).
pub(crate) fn tiff_many_samples(w: u32, h: u32, spp: u16) -> Vec<u8> {
    let strip = packbits_zeros(w as usize * h as usize * spp as usize);
    let bits: Vec<u8> = (0..spp).flat_map(|_| 8u16.to_le_bytes()).collect();
    let extra: Vec<u8> = (1..spp).flat_map(|_| 0u16.to_le_bytes()).collect();
    // Layout: header, strip, bits-per-sample array, extra-samples array, IFD.
    let strip_off = 8u32;
    let bits_off = strip_off + strip.len() as u32;
    let extra_off = bits_off + bits.len() as u32;
    let ifd_off = extra_off + extra.len() as u32;
    // Up to two SHORTs are stored in the entry itself, not at an offset.
    let bits_value = match spp {
        1 => 8,
        2 => 8 | 8 << 16,
        _ => bits_off,
    };
    let extra_value = if spp <= 3 { 0 } else { extra_off };
    let mut entries: Vec<(u16, u16, u32, u32)> = vec![
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, spp as u32, bits_value),
        (259, 3, 1, 32773),
        (262, 3, 1, 1),
        (273, 4, 1, strip_off),
        (277, 3, 1, spp as u32),
        (278, 4, 1, h),
        (279, 4, 1, strip.len() as u32),
        (284, 3, 1, 1),
    ];
    if spp > 1 {
        entries.push((338, 3, spp as u32 - 1, extra_value));
    }
    entries.sort_by_key(|e| e.0);
    let mut v = b"II\x2a\0".to_vec();
    v.extend(ifd_off.to_le_bytes());
    v.extend(&strip);
    v.extend(&bits);
    v.extend(&extra);
    v.extend((entries.len() as u16).to_le_bytes());
    for (tag, ty, count, value) in entries {
        v.extend(tag.to_le_bytes());
        v.extend(ty.to_le_bytes());
        v.extend(count.to_le_bytes());
        if ty == 3 && count == 1 {
            v.extend((value as u16).to_le_bytes());
            v.extend([0, 0]);
        } else {
            v.extend(value.to_le_bytes());
        }
    }
    v.extend(0u32.to_le_bytes());
    v
}

/// `tiff` (from [`tiff_many_samples`]: one IFD at its end) followed by
/// `more` copies of its IFD, each page linking to the next; the last links
/// back to the first when `looped`.
pub(crate) fn with_tiff_pages(mut tiff: Vec<u8>, more: usize, looped: bool) -> Vec<u8> {
    let first = u32::from_le_bytes(tiff[4..8].try_into().expect("4 bytes")) as usize;
    let ifd = tiff[first..].to_vec();
    let link = |tiff: &mut Vec<u8>, to: usize| {
        let at = tiff.len() - 4;
        tiff[at..].copy_from_slice(&(to as u32).to_le_bytes());
    };
    tiff.reserve(more * ifd.len());
    for _ in 0..more {
        let next = tiff.len();
        link(&mut tiff, next);
        tiff.extend_from_slice(&ifd);
    }
    if looped {
        link(&mut tiff, first);
    }
    tiff
}

/// `tiff` (from [`tiff_many_samples`]: one IFD at its end, tags below
/// `tag`) with one more IFD entry.
pub(crate) fn with_tiff_tag(
    mut tiff: Vec<u8>,
    tag: u16,
    ty: u16,
    count: u32,
    value: u32,
) -> Vec<u8> {
    let ifd = u32::from_le_bytes(tiff[4..8].try_into().expect("4 bytes")) as usize;
    let n = u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]);
    tiff[ifd..ifd + 2].copy_from_slice(&(n + 1).to_le_bytes());
    let mut entry = tag.to_le_bytes().to_vec();
    entry.extend(ty.to_le_bytes());
    entry.extend(count.to_le_bytes());
    entry.extend(value.to_le_bytes());
    let at = tiff.len() - 4;
    tiff.splice(at..at, entry);
    tiff
}

/// An extended WebP header (VP8X, 64x64) followed by a `tag` chunk that
/// declares 2 GB and holds a few bytes.
pub(crate) fn webp_forged_chunk(tag: &[u8]) -> Vec<u8> {
    let mut vp8x = vec![0x2c, 0, 0, 0];
    vp8x.extend(&63u32.to_le_bytes()[..3]);
    vp8x.extend(&63u32.to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend(tag);
    body.extend(0x7fff_0000u32.to_le_bytes());
    body.extend(b"forged chunk data");
    let mut v = b"RIFF".to_vec();
    v.extend((body.len() as u32).to_le_bytes());
    v.extend(body);
    v
}

/// A raw JPEG 2000 codestream header: one `w` x `h` tile of `comps`
/// components and a tile part without data (OpenJPEG sizes its buffers
/// from the header).
pub(crate) fn j2k_single_tile(w: u32, h: u32, comps: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0x4F];
    let mut siz = Vec::new();
    siz.extend(0u16.to_be_bytes()); // Rsiz
    for x in [w, h, 0, 0, w, h, 0, 0] {
        siz.extend(x.to_be_bytes());
    }
    siz.extend(comps.to_be_bytes());
    for _ in 0..comps {
        siz.extend([7, 1, 1]);
    }
    v.extend(seg(0x51, &siz));
    v.extend(seg(0x52, &[0, 0, 0, 1, 0, 5, 4, 4, 0, 0])); // COD: 5 levels
    v.extend(seg(
        0x5C,
        &[
            0x40, 0x40, 0x48, 0x48, 0x50, 0x48, 0x48, 0x50, 0x48, 0x48, 0x50, 0x48, 0x48, 0x50,
            0x48, 0x48, 0x50,
        ],
    ));
    v.extend(seg(0x90, &[0, 0, 0, 0, 0, 14, 0, 1])); // SOT, tile part of 14 bytes
    v.extend([0xFF, 0x93]); // SOD
    v.extend([0u8; 2]);
    v.extend([0xFF, 0xD9]);
    v
}

fn riff_chunk(tag: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = tag.to_vec();
    v.extend((body.len() as u32).to_le_bytes());
    v.extend(body);
    if body.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// An animated GIF of `frames` frames of `side` x `side` RGB `noise`
/// (`side * side * frames * 3` bytes): slow to quantise and encode.
pub(crate) fn noisy_gif(frames: i32, side: i32, noise: &[u8]) -> Vec<u8> {
    let img = Image::from_memory(noise, side, side * frames, 3, BandFormat::UCHAR)
        .and_then(|i| i.with_meta(|m| m.set_int("page-height", side)))
        .expect("vips noise");
    save(&img, "gifsave_buffer", &[])
}

/// A PNG of `w` x `h` RGB `noise` (`w * h * 3` bytes).
pub(crate) fn noisy_png(w: i32, h: i32, noise: &[u8]) -> Vec<u8> {
    let img = Image::from_memory(noise, w, h, 3, BandFormat::UCHAR).expect("vips noise");
    save(&img, "pngsave_buffer", &[])
}

/// `frames` frames of `side` x `side` RGB `noise` as an animation, saved
/// by `saver`.
pub(crate) fn noisy_animation(frames: i32, side: i32, noise: &[u8], saver: &str) -> Vec<u8> {
    let img = Image::from_memory(noise, side, side * frames, 3, BandFormat::UCHAR)
        .and_then(|i| i.with_meta(|m| m.set_int("page-height", side)))
        .expect("vips noise");
    save(&img, saver, &[])
}

/// `frames` frames of `side` x `side` RGB noise of close colours (32
/// levels a channel, from `noise`) as a lossless animated WebP: the
/// costliest to remap for their count when quantised.
pub(crate) fn crowded_animation(frames: i32, side: i32, noise: &[u8]) -> Vec<u8> {
    let close: Vec<u8> = noise.iter().map(|v| 120 + v / 8).collect();
    let img = Image::from_memory(&close, side, side * frames, 3, BandFormat::UCHAR)
        .and_then(|i| i.with_meta(|m| m.set_int("page-height", side)))
        .expect("vips noise");
    save(&img, "webpsave_buffer", &[("lossless", true)])
}

/// A JPEG of `w` x `h` RGB `noise` (`w * h * 3` bytes).
pub(crate) fn noisy_jpeg(w: i32, h: i32, noise: &[u8]) -> Vec<u8> {
    let img = Image::from_memory(noise, w, h, 3, BandFormat::UCHAR).expect("vips noise");
    save(&img, "jpegsave_buffer", &[])
}

/// An animated WebP of `frames` copies of one small lossless frame on a
/// `w` x `h` canvas (the frame made by libvips).
pub(crate) fn webp_animation(frames: usize, w: u32, h: u32) -> Vec<u8> {
    let frame = Image::black(w as i32, h as i32, 3).expect("vips black");
    let still = save(&frame, "webpsave_buffer", &[("lossless", true)]);
    // The VP8L chunk of the still image (after a VP8X when libvips wrote
    // metadata: an ANMF may not hold one).
    let at = still
        .windows(4)
        .position(|w| w == b"VP8L")
        .expect("a VP8L chunk");
    let len = u32::from_le_bytes(still[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
    let bitstream = &still[at..(at + 8 + len + (len & 1)).min(still.len())];
    let mut anmf = Vec::new();
    anmf.extend([0u8; 6]); // x, y
    anmf.extend(&(w - 1).to_le_bytes()[..3]);
    anmf.extend(&(h - 1).to_le_bytes()[..3]);
    anmf.extend(&100u32.to_le_bytes()[..3]); // duration
    anmf.push(0);
    anmf.extend(bitstream);
    let mut vp8x = vec![0x02, 0, 0, 0];
    vp8x.extend(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend(&(h - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend(riff_chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]));
    let frame_chunk = riff_chunk(b"ANMF", &anmf);
    for _ in 0..frames {
        body.extend(&frame_chunk);
    }
    let mut v = b"RIFF".to_vec();
    v.extend((body.len() as u32).to_le_bytes());
    v.extend(body);
    v
}

/// A 64x64 sRGB JPEG carrying an ICC v4 profile whose `D2B0`-`D2B2` and
/// `A2B0`-`A2B2` tags share one `mpet` pipeline: a 3x3 matrix then
/// `elements - 1` CLUTs of 2x2x2 points (which LittleCMS can neither join
/// nor drop), all evaluated at every point of the grid it samples when it
/// builds a transform.
pub(crate) fn icc_mpet_jpeg(elements: u32) -> Vec<u8> {
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    let mut matf = b"matf\0\0\0\0".to_vec();
    matf.extend(3u16.to_be_bytes());
    matf.extend(3u16.to_be_bytes());
    matf.extend(f32s(&[1.0 / 3.0; 9]));
    matf.extend(f32s(&[0.0; 3]));
    let mut clut = b"clut\0\0\0\0".to_vec();
    clut.extend(3u16.to_be_bytes());
    clut.extend(3u16.to_be_bytes());
    clut.extend([2, 2, 2]);
    clut.extend([0u8; 13]);
    let mut grid = Vec::new();
    for r in [0.0f32, 1.0] {
        for g in [0.0f32, 1.0] {
            for b in [0.0f32, 1.0] {
                grid.extend([0.1 + 0.8 * r, 0.1 + 0.8 * g, 0.1 + 0.8 * b]);
            }
        }
    }
    clut.extend(f32s(&grid));
    let n = elements.max(1) as usize;
    let head = 16 + 8 * n;
    let mut mpet = b"mpet\0\0\0\0".to_vec();
    mpet.extend(3u16.to_be_bytes());
    mpet.extend(3u16.to_be_bytes());
    mpet.extend((n as u32).to_be_bytes());
    let mut at = head;
    for i in 0..n {
        let len = if i == 0 { matf.len() } else { clut.len() };
        mpet.extend((at as u32).to_be_bytes());
        mpet.extend((len as u32).to_be_bytes());
        at += len;
    }
    mpet.extend(&matf);
    for _ in 1..n {
        mpet.extend(&clut);
    }
    mpet.resize(mpet.len().next_multiple_of(4), 0);
    let white = |v: &mut Vec<u8>| {
        for x in [63190i32, 65536, 54061] {
            v.extend(x.to_be_bytes());
        }
    };
    let mut wtpt = b"XYZ \0\0\0\0".to_vec();
    white(&mut wtpt);
    let tags: [&[u8; 4]; 6] = [b"D2B0", b"D2B1", b"D2B2", b"A2B0", b"A2B1", b"A2B2"];
    let data_at = 128 + 4 + 12 * (tags.len() + 1);
    let wtpt_at = data_at + mpet.len();
    let size = wtpt_at + wtpt.len();
    let mut icc = Vec::new();
    icc.extend((size as u32).to_be_bytes());
    icc.extend(b"lcms");
    icc.extend(0x0430_0000u32.to_be_bytes());
    icc.extend(b"prtrRGB XYZ ");
    icc.extend([0u8; 12]);
    icc.extend(b"acspAPPL");
    icc.resize(68, 0);
    white(&mut icc);
    icc.extend(b"lcms");
    icc.resize(128, 0);
    icc.extend(((tags.len() + 1) as u32).to_be_bytes());
    for t in tags {
        icc.extend(t);
        icc.extend((data_at as u32).to_be_bytes());
        icc.extend((mpet.len() as u32).to_be_bytes());
    }
    icc.extend(b"wtpt");
    icc.extend((wtpt_at as u32).to_be_bytes());
    icc.extend((wtpt.len() as u32).to_be_bytes());
    icc.extend(mpet);
    icc.extend(wtpt);
    let plain = save(
        &Image::black(64, 64, 3).expect("vips black"),
        "jpegsave_buffer",
        &[("strip", true)],
    );
    let mut v = plain[..2].to_vec();
    let parts: Vec<&[u8]> = icc.chunks(65_519).collect();
    for (i, part) in parts.iter().enumerate() {
        let mut payload = b"ICC_PROFILE\0".to_vec();
        payload.extend([(i + 1) as u8, parts.len() as u8]);
        payload.extend(*part);
        v.extend(seg(0xE2, &payload));
    }
    v.extend(&plain[2..]);
    v
}
