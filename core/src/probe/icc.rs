//! ICC profiles: how long a colour transform through one will take to
//! build. LittleCMS samples a profile's pipeline on a grid when it builds a
//! transform, evaluating every stage at every grid point, in one call
//! nothing interrupts; a v4 multi-process-element tag (`mpet`, as in
//! `D2B0`) may chain any number of stages.

/// The processing elements of the profile's `mpet` tags, each tag body
/// counted once (tags may share one): 0 for a profile without any, or one
/// that cannot be read (LittleCMS refuses those).
pub(crate) fn icc_processing_elements(profile: &[u8]) -> u64 {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            profile.get(at..at + 4)?.try_into().ok()?,
        ))
    };
    let Some(count) = be32(128) else {
        return 0;
    };
    let mut seen = Vec::new();
    let mut elements = 0u64;
    // A tag table entry is 12 bytes; the table cannot be longer than the
    // profile, however many entries it announces.
    for i in 0..(count as usize).min(profile.len() / 12) {
        let entry = 132 + 12 * i;
        let Some(offset) = be32(entry + 4) else {
            break;
        };
        let offset = offset as usize;
        if seen.contains(&offset) || profile.get(offset..offset + 4) != Some(b"mpet") {
            continue;
        }
        seen.push(offset);
        elements += u64::from(be32(offset + 12).unwrap_or(0));
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
}
