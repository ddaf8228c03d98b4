'use strict'

// The platform triples napi-rs names addons by (`imagor.<triple>.node`), most
// likely first.
function platformTriples() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report?.getReport?.()?.header?.glibcVersionRuntime
    return glibc ? [`linux-${arch}-gnu`, `linux-${arch}-musl`] : [`linux-${arch}-musl`, `linux-${arch}-gnu`]
  }
  if (platform === 'win32') return [`win32-${arch}-msvc`]
  return [`${platform}-${arch}`]
}

module.exports = { platformTriples }
