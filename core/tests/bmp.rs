//! BMP decoding as imagor's Go fallback (`golang.org/x/image/bmp`) does
//! it: which files decode, to which RGBA pixels, and which are refused.
//! The files are built here, field by field.

use imagor::{Error, Imagor, Options};

const W: usize = 5;
const H: usize = 3;

/// A test pattern: (r, g, b, a) of pixel (x, y), top row first.
fn pattern(x: usize, y: usize) -> [u8; 4] {
    let v = (x * 47 + y * 101) as u8;
    [v, v.wrapping_mul(3), 255 - v, (x * 60 + y * 20) as u8]
}

/// Everything a test may change in a file.
struct Bmp {
    info_len: u32,
    height: i32,
    bits: u16,
    compression: u32,
    masks: [u32; 4],
    colours_used: u32,
    palette: Vec<[u8; 3]>,
    /// Stored rows, in file order (bottom-up unless the height is negative).
    rows: Vec<Vec<u8>>,
    /// Bytes taken off the end.
    cut: usize,
    /// Added to the pixel data offset.
    offset_delta: i64,
}

impl Bmp {
    fn new(bits: u16, row: impl Fn(usize) -> Vec<u8>) -> Bmp {
        Bmp {
            info_len: 40,
            height: H as i32,
            bits,
            compression: 0,
            masks: [0; 4],
            colours_used: 0,
            palette: Vec::new(),
            rows: (0..H).rev().map(row).collect(),
            cut: 0,
            offset_delta: 0,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut info = Vec::new();
        info.extend_from_slice(&self.info_len.to_le_bytes());
        info.extend_from_slice(&(W as i32).to_le_bytes());
        info.extend_from_slice(&self.height.to_le_bytes());
        info.extend_from_slice(&1u16.to_le_bytes());
        info.extend_from_slice(&self.bits.to_le_bytes());
        info.extend_from_slice(&self.compression.to_le_bytes());
        info.extend_from_slice(&[0; 12]); // image size, resolution
        info.extend_from_slice(&self.colours_used.to_le_bytes());
        info.extend_from_slice(&[0; 4]); // important colours
        for m in self.masks {
            info.extend_from_slice(&m.to_le_bytes());
        }
        info.resize(self.info_len as usize, 0);
        let mut palette = Vec::new();
        for [r, g, b] in &self.palette {
            palette.extend_from_slice(&[*b, *g, *r, 0]);
        }
        let mut pixels = Vec::new();
        for row in &self.rows {
            pixels.extend_from_slice(row);
            pixels.resize(pixels.len().next_multiple_of(4), 0);
        }
        let offset = (14 + info.len() + palette.len()) as i64 + self.offset_delta;
        let mut out = b"BM".to_vec();
        out.extend_from_slice(
            &((14 + info.len() + palette.len() + pixels.len()) as u32).to_le_bytes(),
        );
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        out.extend_from_slice(&info);
        out.extend_from_slice(&palette);
        out.extend_from_slice(&pixels);
        out.truncate(out.len() - self.cut);
        out
    }
}

fn bgr(y: usize) -> Vec<u8> {
    (0..W)
        .flat_map(|x| {
            let [r, g, b, _] = pattern(x, y);
            [b, g, r]
        })
        .collect()
}

fn bgra(y: usize) -> Vec<u8> {
    (0..W)
        .flat_map(|x| {
            let [r, g, b, a] = pattern(x, y);
            [b, g, r, a]
        })
        .collect()
}

/// Palette index of pixel (x, y) for `bits` per pixel.
fn index(x: usize, y: usize, bits: u16) -> u8 {
    ((x + 2 * y) % (1 << bits)) as u8
}

fn palette(bits: u16) -> Vec<[u8; 3]> {
    (0..1usize << bits)
        .map(|i| [(i * 37) as u8, (i * 91) as u8, !((i * 13) as u8)])
        .collect()
}

fn packed(y: usize, bits: u16) -> Vec<u8> {
    let mut row = vec![0u8; (W * bits as usize).div_ceil(8)];
    for x in 0..W {
        let bit = x * bits as usize;
        row[bit / 8] |= index(x, y, bits) << (8 - bits as usize - bit % 8);
    }
    row
}

fn decode(file: &Bmp) -> imagor::Result<Vec<u8>> {
    let imagor = Imagor::new(Options::default()).unwrap();
    let px = imagor.process_to_pixels(&file.bytes(), "")?;
    assert_eq!((px.width, px.height, px.bands), (W as u32, H as u32, 4));
    Ok(px.data)
}

fn expected(f: impl Fn(usize, usize) -> [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..H {
        for x in 0..W {
            out.extend_from_slice(&f(x, y));
        }
    }
    out
}

fn opaque(x: usize, y: usize) -> [u8; 4] {
    let [r, g, b, _] = pattern(x, y);
    [r, g, b, 255]
}

/// What Go's `draw.Draw` of an NRGBA pixel onto an RGBA image stores.
fn premultiplied(x: usize, y: usize) -> [u8; 4] {
    let [r, g, b, a] = pattern(x, y);
    let pm = |c: u8| ((u32::from(c) * 0x101 * u32::from(a) / 0xff) >> 8) as u8;
    [pm(r), pm(g), pm(b), a]
}

#[test]
fn rgb_rows_bottom_up_and_top_down() {
    assert_eq!(decode(&Bmp::new(24, bgr)).unwrap(), expected(opaque));
    let mut top_down = Bmp::new(24, bgr);
    top_down.height = -(H as i32);
    top_down.rows = (0..H).map(bgr).collect();
    assert_eq!(decode(&top_down).unwrap(), expected(opaque));
}

#[test]
fn thirty_two_bits_have_alpha_only_with_a_v4_or_v5_header() {
    assert_eq!(decode(&Bmp::new(32, bgra)).unwrap(), expected(opaque));
    for info_len in [108, 124] {
        let mut v = Bmp::new(32, bgra);
        v.info_len = info_len;
        assert_eq!(decode(&v).unwrap(), expected(premultiplied), "{info_len}");
        // BI_BITFIELDS with the default masks is the same file.
        v.compression = 3;
        v.masks = [0xff0000, 0xff00, 0xff, 0xff000000];
        assert_eq!(decode(&v).unwrap(), expected(premultiplied), "{info_len}");
    }
}

#[test]
fn palettes_of_one_to_eight_bits() {
    for bits in [1u16, 2, 4, 8] {
        let mut p = Bmp::new(bits, |y| packed(y, bits));
        p.palette = palette(bits);
        let table = palette(bits);
        let want = expected(|x, y| {
            let [r, g, b] = table[index(x, y, bits) as usize];
            [r, g, b, 255]
        });
        assert_eq!(decode(&p).unwrap(), want, "{bits} bits");
        // A shorter palette, declared.
        if bits == 8 {
            p.colours_used = 16;
            p.palette.truncate(16);
            assert_eq!(decode(&p).unwrap(), want, "16 colours");
            // An index past its end.
            p.rows[0][0] = 200;
            assert_eq!(decode(&p).unwrap_err(), Error::unsupported());
        }
    }
}

#[test]
fn what_go_refuses_is_refused() {
    let refused = |name: &str, file: Bmp| {
        assert_eq!(decode(&file).unwrap_err(), Error::unsupported(), "{name}");
    };
    let mut rle = Bmp::new(8, |_| vec![0, 0]);
    rle.compression = 1;
    rle.palette = palette(8);
    refused("RLE8", rle);
    refused("16 bits", Bmp::new(16, |_| vec![0; 2 * W]));
    let mut masks = Bmp::new(32, bgra);
    (masks.info_len, masks.compression, masks.masks) = (108, 3, [0xff, 0xff00, 0xff0000, 0]);
    refused("other bit masks", masks);
    let mut os2 = Bmp::new(24, bgr);
    os2.info_len = 64;
    refused("a 64-byte info header", os2);
    let mut cut = Bmp::new(24, bgr);
    cut.cut = 1;
    refused("the last row one byte short", cut);
    let mut gap = Bmp::new(24, bgr);
    gap.offset_delta = 4;
    refused("pixel data not right after the header", gap);
    let mut many = Bmp::new(8, |y| packed(y, 8));
    (many.palette, many.colours_used) = (palette(8), 257);
    refused("more colours than 8 bits index", many);
}

#[test]
fn sizes_are_checked_before_any_pixel_is_read() {
    // Sizes declared in a 100-byte file.
    let declared = |w: i32, h: i32| {
        let mut file = Bmp::new(24, |_| Vec::new()).bytes();
        file[18..22].copy_from_slice(&w.to_le_bytes());
        file[22..26].copy_from_slice(&h.to_le_bytes());
        file
    };
    let imagor = Imagor::new(Options::default()).unwrap();
    for (w, h) in [(20000, 1), (1, -20000), (9000, 9001)] {
        assert_eq!(
            imagor.process_to_pixels(&declared(w, h), "").unwrap_err(),
            Error::MaxResolutionExceeded,
            "{w}x{h}"
        );
    }
    // Without limits, Go's own cap of 2^30 pixels still holds, and a
    // file without its rows is refused before they are allocated.
    let big = declared(40000, 40000);
    let unlimited = Imagor::new(Options {
        unlimited: true,
        max_memory: 0,
        ..Options::default()
    })
    .unwrap();
    assert_eq!(
        unlimited.process_to_pixels(&big, "").unwrap_err(),
        Error::unsupported()
    );
    assert_eq!(
        unlimited
            .process_to_pixels(&declared(30000, -30000), "")
            .unwrap_err(),
        Error::unsupported()
    );
}

#[test]
fn every_one_byte_forgery_is_an_image_or_a_typed_error() {
    let imagor = Imagor::new(Options::default()).unwrap();
    let mut files = vec![Bmp::new(24, bgr), Bmp::new(32, bgra)];
    for bits in [1u16, 4, 8] {
        let mut p = Bmp::new(bits, |y| packed(y, bits));
        p.palette = palette(bits);
        files.push(p);
    }
    let mut v5 = Bmp::new(32, bgra);
    v5.info_len = 124;
    files.push(v5);
    let mut decoded = 0;
    for file in files {
        let bytes = file.bytes();
        // Headers fully, then a sample of the palette and pixels.
        let positions = (0..bytes.len()).filter(|&i| i < 160 || i % 7 == 0);
        for at in positions {
            for value in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
                let mut forged = bytes.clone();
                forged[at] = value;
                match imagor.process_to_pixels(&forged, "") {
                    Ok(px) => {
                        decoded += 1;
                        assert_eq!(px.data.len() as u32, px.width * px.height * px.bands);
                    }
                    Err(e) => assert!(
                        matches!(e.status(), 400 | 406 | 422),
                        "byte {at} = {value}: {e:?}"
                    ),
                }
            }
        }
    }
    assert!(decoded > 0);
}
