//! napi-rs link setup (platform linker flags for Node addons).
fn main() {
    napi_build::setup();
}
