// The ES module entry of `imagor` (`import { process, meta } from 'imagor'`):
// the same objects as `require('imagor')`, as named exports and as the default.
import imagor from './index.js'

export const {
  sign,
  verify,
  parse,
  generate,
  process,
  processSync,
  toPixels,
  processPixels,
  meta,
  versions,
  formats,
  Imagor,
  ImagorError,
  ImagorUrlBuilder,
} = imagor
export default imagor
