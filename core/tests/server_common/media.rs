//! Small readers of encoded images (container by magic number, GIF
//! frames, animated WebP) and a table printer.

/// The image container of encoded bytes, by magic number.
pub fn sniff(b: &[u8]) -> &'static str {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        "png"
    } else if b.starts_with(b"\xff\xd8\xff") {
        "jpeg"
    } else if b.starts_with(b"GIF8") {
        "gif"
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        "webp"
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        "tiff"
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        match &b[8..12] {
            b"avif" | b"avis" => "avif",
            _ => "heif",
        }
    } else if b.starts_with(b"BM") {
        "bmp"
    } else {
        "unknown"
    }
}

/// A WebP file with the animation flag (VP8X) or an `ANIM` chunk.
pub fn webp_is_animated(b: &[u8]) -> bool {
    if sniff(b) != "webp" {
        return false;
    }
    let mut i = 12;
    while i + 8 <= b.len() {
        let id = &b[i..i + 4];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        if id == b"ANIM" || (id == b"VP8X" && b.get(i + 8).is_some_and(|f| f & 0x02 != 0)) {
            return true;
        }
        i += 8 + len + (len & 1);
    }
    false
}

/// What a GIF says about its animation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GifInfo {
    pub frames: usize,
    /// Per frame, in 1/100 s (from the graphic control extension; 0 when
    /// a frame has none).
    pub delays: Vec<u16>,
    /// Per frame, the disposal method.
    pub disposals: Vec<u8>,
    /// NETSCAPE2.0 loop count; `None` without the extension.
    pub loop_count: Option<u16>,
}

/// Walk a GIF's blocks; `None` when it is not a well-formed GIF.
pub fn gif_info(b: &[u8]) -> Option<GifInfo> {
    if !b.starts_with(b"GIF8") || b.len() < 13 {
        return None;
    }
    let mut i = 13;
    if b[10] & 0x80 != 0 {
        i += 3 * (1usize << ((b[10] & 7) + 1));
    }
    let skip_sub_blocks = |mut i: usize| -> Option<usize> {
        loop {
            let n = *b.get(i)? as usize;
            i += 1;
            if n == 0 {
                return Some(i);
            }
            i += n;
        }
    };
    let mut info = GifInfo {
        frames: 0,
        delays: Vec::new(),
        disposals: Vec::new(),
        loop_count: None,
    };
    let (mut delay, mut disposal) = (0u16, 0u8);
    loop {
        match *b.get(i)? {
            0x21 => {
                let label = *b.get(i + 1)?;
                if label == 0xF9 {
                    let packed = *b.get(i + 3)?;
                    disposal = (packed >> 2) & 7;
                    delay = u16::from_le_bytes([*b.get(i + 4)?, *b.get(i + 5)?]);
                } else if label == 0xFF && b.get(i + 3..i + 14) == Some(&b"NETSCAPE2.0"[..]) {
                    let sub = i + 14;
                    if b.get(sub) == Some(&3) && b.get(sub + 1) == Some(&1) {
                        info.loop_count =
                            Some(u16::from_le_bytes([*b.get(sub + 2)?, *b.get(sub + 3)?]));
                    }
                }
                i = skip_sub_blocks(i + 2)?;
            }
            0x2C => {
                let packed = *b.get(i + 9)?;
                i += 10;
                if packed & 0x80 != 0 {
                    i += 3 * (1usize << ((packed & 7) + 1));
                }
                i = skip_sub_blocks(i + 1)?;
                info.frames += 1;
                info.delays.push(delay);
                info.disposals.push(disposal);
                (delay, disposal) = (0, 0);
            }
            0x3B => return Some(info),
            _ => return None,
        }
    }
}

/// A table printer: rows of cells, columns padded.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count().min(70));
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
}
