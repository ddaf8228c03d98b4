//! Files whose headers cost their decoders, in one call no deadline
//! interrupts, time or memory that grows faster than their size: libheif
//! 1.15 links a HEIF's items to each other, libtiff registers each unknown
//! tag of a directory, libwebp's demuxer records every chunk. Shared by the
//! hostile corpus and `tests/header_reads.rs`.

fn bx(kind: &[u8], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend(kind);
    b.extend(body);
    b
}

fn fbx(kind: &[u8], version: u8, body: &[u8]) -> Vec<u8> {
    let mut b = vec![version, 0, 0, 0];
    b.extend(body);
    bx(kind, &b)
}

/// An AVIF whose primary item is a `rows` x `cols` grid of 8x8 AV1 tiles
/// that all share one 24-byte payload (or, `empty`, have no data at all).
pub fn avif_grid(rows: usize, cols: usize, empty: bool) -> Vec<u8> {
    let tile: &[u8] = if empty {
        &[]
    } else {
        &[
            0x12, 0x00, 0x0a, 0x08, 0x18, 0x08, 0xbf, 0x60, 0x81, 0x01, 0x03, 0x42, 0x32, 0x0a,
            0x18, 0x00, 0x00, 0x00, 0x40, 0x05, 0xf5, 0xef, 0x64, 0xe8,
        ]
    };
    let av1c = [0x81u8, 0x00, 0x0c, 0x00];
    let n = rows * cols;
    let grid_id = (n + 1) as u16;
    let (gw, gh) = ((cols * 8) as u16, (rows * 8) as u16);
    let mut grid = vec![0, 0, (rows - 1) as u8, (cols - 1) as u8];
    grid.extend(gw.to_be_bytes());
    grid.extend(gh.to_be_bytes());
    let ftyp = bx(b"ftyp", b"avif\0\0\0\0avifmif1miaf");
    let mut hdlr = b"\0\0\0\0pict".to_vec();
    hdlr.extend([0u8; 13]);
    let hdlr = fbx(b"hdlr", 0, &hdlr);
    let pitm = fbx(b"pitm", 0, &grid_id.to_be_bytes());
    let mut infes = (n as u16 + 1).to_be_bytes().to_vec();
    for id in 1..=n as u16 {
        let mut e = id.to_be_bytes().to_vec();
        e.extend(b"\0\0av01\0");
        infes.extend(fbx(b"infe", 2, &e));
    }
    let mut e = grid_id.to_be_bytes().to_vec();
    e.extend(b"\0\0grid\0");
    infes.extend(fbx(b"infe", 2, &e));
    let iinf = fbx(b"iinf", 0, &infes);
    let mut dimg = grid_id.to_be_bytes().to_vec();
    dimg.extend((n as u16).to_be_bytes());
    for id in 1..=n as u16 {
        dimg.extend(id.to_be_bytes());
    }
    let iref = fbx(b"iref", 0, &bx(b"dimg", &dimg));
    let mut ispe_t = 8u32.to_be_bytes().to_vec();
    ispe_t.extend(8u32.to_be_bytes());
    let mut ispe_g = (gw as u32).to_be_bytes().to_vec();
    ispe_g.extend((gh as u32).to_be_bytes());
    let ipco = bx(
        b"ipco",
        &[
            bx(b"av1C", &av1c),
            fbx(b"ispe", 0, &ispe_t),
            fbx(b"ispe", 0, &ispe_g),
            fbx(b"pixi", 0, &[3, 8, 8, 8]),
        ]
        .concat(),
    );
    let mut ipma = (n as u32 + 1).to_be_bytes().to_vec();
    for id in 1..=n as u16 {
        ipma.extend(id.to_be_bytes());
        ipma.extend([3, 0x81, 2, 4]);
    }
    ipma.extend(grid_id.to_be_bytes());
    ipma.extend([2, 3, 4]);
    let iprp = bx(b"iprp", &[ipco, fbx(b"ipma", 0, &ipma)].concat());
    let head = |mdat: u32| {
        let mut iloc = vec![0x44, 0x00];
        iloc.extend((n as u16 + 1).to_be_bytes());
        for id in 1..=n as u16 {
            iloc.extend(id.to_be_bytes());
            iloc.extend([0, 0, 0, 1]);
            iloc.extend(mdat.to_be_bytes());
            iloc.extend((tile.len() as u32).to_be_bytes());
        }
        iloc.extend(grid_id.to_be_bytes());
        iloc.extend([0, 0, 0, 1]);
        iloc.extend((mdat + tile.len() as u32).to_be_bytes());
        iloc.extend((grid.len() as u32).to_be_bytes());
        let meta = [
            hdlr.clone(),
            pitm.clone(),
            fbx(b"iloc", 0, &iloc),
            iinf.clone(),
            iref.clone(),
            iprp.clone(),
        ]
        .concat();
        [ftyp.clone(), fbx(b"meta", 0, &meta)].concat()
    };
    let mdat_at = head(0).len() as u32 + 8;
    [head(mdat_at), bx(b"mdat", &[tile, &grid[..]].concat())].concat()
}

/// A 1x1 grey TIFF whose only IFD also holds `n` distinct private tags.
pub fn tiff_with_private_tags(n: usize) -> Vec<u8> {
    let mut tags: Vec<(u16, u16, u32)> = vec![
        (256, 3, 1),
        (257, 3, 1),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),
        (277, 3, 1),
        (278, 3, 1),
        (279, 4, 1),
    ];
    tags.extend((0..n).map(|i| (65535 - i as u16, 3, 7)));
    tags.sort();
    let mut out = b"II*\0\x0a\0\0\0\x80\0".to_vec();
    out.extend((tags.len() as u16).to_le_bytes());
    for (tag, ty, value) in tags {
        out.extend(tag.to_le_bytes());
        out.extend(ty.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(value.to_le_bytes());
    }
    out.extend([0; 4]);
    out
}

/// A still WebP (`still`, a RIFF file) with `bytes` of empty chunks (8
/// zero bytes each: an unknown tag of length 0) added inside its RIFF,
/// which libwebp's demuxer records one by one.
pub fn webp_with_empty_chunks(still: &[u8], bytes: usize) -> Vec<u8> {
    let mut body = still[12..].to_vec();
    body.resize(body.len() + bytes / 8 * 8, 0);
    let mut webp = b"RIFF".to_vec();
    webp.extend(((body.len() + 4) as u32).to_le_bytes());
    webp.extend(b"WEBP");
    webp.extend(body);
    webp
}

/// The corpus' cases of these files.
pub(super) fn header_reads(c: &mut super::Corpus, testdata: &std::path::Path) {
    // libheif 1.15 took 12.7 s over the header of 19 882 items (855 KB).
    for path in [super::PATH, "meta/x"] {
        c.with(
            &format!("avif grid of 141x141 tiles {path}"),
            avif_grid(141, 141, false),
            path,
            None,
        );
    }
    // Tiles of no data: the system dav1d printed on stderr for each.
    c.add("avif grid of empty tiles", avif_grid(2, 2, true));
    // 4 087 private tags: libtiff's directory read, 0.4 s each time.
    c.add("tiff of 4087 private tags", tiff_with_private_tags(4087));
    // 24 MB of empty chunks: libwebp's demuxer records each (33 bytes).
    let still = std::fs::read(testdata.join("demo3.webp")).expect("testdata/demo3.webp");
    c.add(
        "webp of 3 million empty chunks",
        webp_with_empty_chunks(&still, 24 << 20),
    );
    // TIFF output is written whole into memory and copied out: 1x1 RGBA
    // upscaled to 8100x8100 peaked at 553 MB.
    let rgba = imagor::vips::Image::black(1, 1, 4).expect("a 1x1 image");
    c.with(
        "1x1 rgba upscaled to 8100x8100 as tiff",
        super::builders::save(&rgba, "pngsave_buffer", &[]),
        "fit-in/8100x8100/filters:upscale():format(tiff)/x",
        None,
    );
}
