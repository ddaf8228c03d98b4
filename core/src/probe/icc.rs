//! ICC profiles: how long a colour transform through one will take to
//! build. LittleCMS samples a profile's pipeline on a grid when it builds a
//! transform, evaluating every stage at every grid point, in one call
//! nothing interrupts; a v4 multi-process-element tag (`mpet`, as in
//! `D2B0`) may chain any number of stages.

/// The big-endian `u32` at `at`, if the profile holds it.
pub(crate) fn icc_u32(profile: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        profile.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The profile's tag table: `(signature, offset, size)` of each entry, no
/// more entries than the profile has room for, whatever the table says.
pub(crate) fn icc_tags(profile: &[u8]) -> impl Iterator<Item = ([u8; 4], usize, usize)> + '_ {
    let count = icc_u32(profile, 128).unwrap_or(0) as usize;
    (0..count.min(profile.len() / 12)).map_while(move |i| {
        let entry = 132 + 12 * i;
        let sig = profile.get(entry..entry + 4)?.try_into().ok()?;
        let offset = icc_u32(profile, entry + 4)? as usize;
        let size = icc_u32(profile, entry + 8)? as usize;
        Some((sig, offset, size))
    })
}

/// Tags LittleCMS reads of a profile (its `MAX_TABLE_TAG`): it refuses a
/// profile whose table says more.
const LCMS_MAX_TAGS: usize = 100;

/// The processing elements of the profile's `mpet` tags, each tag body
/// counted once (tags may share one): 0 for a profile without any, or one
/// that cannot be read (LittleCMS refuses those). Only the entries
/// LittleCMS would read are looked at: a table of 200 000 entries, each
/// at its own `mpet` body (a 3.2 MB profile in a JPEG), took 4.3 s here
/// comparing every body with those before it, on any budget.
pub(crate) fn icc_processing_elements(profile: &[u8]) -> u64 {
    let mut seen = Vec::new();
    let mut elements = 0u64;
    for (_, offset, _) in icc_tags(profile).take(LCMS_MAX_TAGS) {
        if seen.contains(&offset) || profile.get(offset..offset + 4) != Some(b"mpet") {
            continue;
        }
        seen.push(offset);
        elements += u64::from(icc_u32(profile, offset + 12).unwrap_or(0));
    }
    elements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(tags: &[(&[u8; 4], usize, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; 128];
        p.extend((tags.len() as u32).to_be_bytes());
        let table_end = 132 + 12 * tags.len();
        let mut bodies: Vec<u8> = Vec::new();
        for (sig, shared_with, body) in tags {
            let offset = if *shared_with < tags.len() {
                // Points at an earlier tag's body.
                table_end
            } else {
                let o = table_end + bodies.len();
                bodies.extend(*body);
                o
            };
            p.extend(*sig);
            p.extend((offset as u32).to_be_bytes());
            p.extend((body.len() as u32).to_be_bytes());
        }
        p.extend(bodies);
        p
    }

    fn mpet(elements: u32) -> Vec<u8> {
        let mut b = b"mpet\0\0\0\0".to_vec();
        b.extend(3u16.to_be_bytes());
        b.extend(3u16.to_be_bytes());
        b.extend(elements.to_be_bytes());
        b
    }

    #[test]
    fn counts_the_elements_of_each_mpet_body_once() {
        let big = mpet(10_000);
        let p = profile(&[
            (b"D2B0", usize::MAX, &big),
            (b"D2B1", 0, &big),
            (b"wtpt", usize::MAX, b"XYZ \0\0\0\0"),
        ]);
        assert_eq!(icc_processing_elements(&p), 10_000);
        assert_eq!(icc_processing_elements(&[]), 0);
        assert_eq!(icc_processing_elements(&p[..140]), 0);
        // A table announcing more entries than the profile holds.
        let mut lying = p.clone();
        lying[128..132].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(icc_processing_elements(&lying), 10_000);
    }

    #[test]
    fn only_the_tags_littlecms_reads_are_counted() {
        // 200 000 entries, each at its own 4-byte `mpet` body (whose count
        // then reads `mpet` too): only the first 100 can matter.
        let n = 200_000usize;
        let bodies = 132 + 12 * n;
        let mut p = vec![0u8; 128];
        p.extend((n as u32).to_be_bytes());
        for i in 0..n {
            p.extend(b"D2B0");
            p.extend(((bodies + 4 * i) as u32).to_be_bytes());
            p.extend(4u32.to_be_bytes());
        }
        p.extend(b"mpet".repeat(n + 4));
        let started = std::time::Instant::now();
        let elements = icc_processing_elements(&p);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(elements, 100 * u64::from(u32::from_be_bytes(*b"mpet")));
    }
}
