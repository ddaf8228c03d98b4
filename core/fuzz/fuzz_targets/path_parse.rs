//! imagor's URL grammar on arbitrary text: parsing never panics, generating
//! a parsed path never panics, and a generated path parses to params that
//! generate the same path again (generation is a fixed point).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let params = imagor::path::parse(&text);
    let path = imagor::path::generate_path(&params);
    let again = imagor::path::generate_path(&imagor::path::parse(&path));
    assert_eq!(path, again, "generate(parse(generate(p))) != generate(p) for {text:?}");
    let signer = imagor::sign::Signer::new(imagor::sign::SignerAlg::Sha256, 40, "secret");
    let signed = imagor::path::generate(&params, Some(&signer));
    let reparsed = imagor::path::parse(&signed);
    assert!(signer.verify(&reparsed.path, &reparsed.hash), "signature of {signed:?}");
});
