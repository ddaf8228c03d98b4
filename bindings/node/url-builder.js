'use strict'

// ImagorUrlBuilder: the chain of the npm `thumbor-url-builder` package. The
// chain only collects imagor params; the URL itself is `generate()` of the
// Rust core, so it is the same URL that `generate` and every other binding
// produce for these params.

const HALIGN = new Set(['left', 'center', 'right'])
const VALIGN = new Set(['top', 'middle', 'bottom'])

/** `'300'`, `300`, `null` → an integer; anything else is a TypeError. */
function dimension(name, value) {
  if (value === undefined || value === null || value === '') return 0
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw new TypeError(
      `imagor: ${name} must be an integer, got ${JSON.stringify(value)}` +
        (value === 'orig' ? " (imagor has no 'orig': use 0 for the source size)" : ''),
    )
  }
  return n
}

/** `'format(webp)'` → `{ name: 'format', args: 'webp' }`. */
function filterOf(call) {
  if (typeof call !== 'string' || call === '') {
    throw new TypeError(`imagor: filter must be a non-empty string such as 'quality(80)', got ${JSON.stringify(call)}`)
  }
  const open = call.indexOf('(')
  if (open < 0 || !call.endsWith(')')) return { name: call }
  const args = call.slice(open + 1, -1)
  return args ? { name: call.slice(0, open), args } : { name: call.slice(0, open) }
}

function create(generate) {
  class ImagorUrlBuilder {
    constructor(securityKey, serverUrl = '', options = {}) {
      if (options === null || typeof options !== 'object') {
        throw new TypeError('imagor: ImagorUrlBuilder options must be an object')
      }
      this.THUMBOR_SECURITY_KEY = securityKey
      this.THUMBOR_URL_SERVER = serverUrl
      this.signOptions = {}
      if (options.signerType !== undefined) this.signOptions.signerType = options.signerType
      if (options.truncate !== undefined) this.signOptions.truncate = options.truncate
      this.imagePath = ''
      this.params = {}
      this.filtersCalls = []
    }

    setImagePath(imagePath) {
      if (typeof imagePath !== 'string') {
        throw new TypeError(`imagor: the image path must be a string, got ${typeof imagePath}`)
      }
      this.imagePath = imagePath.charAt(0) === '/' ? imagePath.substring(1) : imagePath
      return this
    }

    resize(width, height) {
      this.params.width = dimension('width', width)
      this.params.height = dimension('height', height)
      return this
    }

    fitIn(width, height) {
      this.resize(width, height)
      this.params.fit_in = true
      return this
    }

    fullFitIn(width, height) {
      this.fitIn(width, height)
      this.params.full_fit_in = true
      return this
    }

    adaptiveFitIn(width, height) {
      this.fitIn(width, height)
      this.params.adaptive_fit_in = true
      return this
    }

    smartCrop(smartCrop) {
      this.params.smart = Boolean(smartCrop)
      return this
    }

    flipHorizontally() {
      this.params.h_flip = true
      return this
    }

    flipVertically() {
      this.params.v_flip = true
      return this
    }

    halign(halign) {
      if (!HALIGN.has(halign)) throw new Error('Horizontal align must be left, right or center.')
      this.params.h_align = halign
      return this
    }

    valign(valign) {
      if (!VALIGN.has(valign)) throw new Error('Vertical align must be top, bottom or middle.')
      this.params.v_align = valign
      return this
    }

    hAlign(halign) {
      return this.halign(halign)
    }

    vAlign(valign) {
      return this.valign(valign)
    }

    metaDataOnly(metaDataOnly) {
      this.params.meta = Boolean(metaDataOnly)
      return this
    }

    filter(filterCall) {
      this.filtersCalls.push(filterCall)
      return this
    }

    crop(left, top, right, bottom) {
      // As thumbor-url-builder: only a rectangle with four positive edges.
      if (left > 0 && top > 0 && right > 0 && bottom > 0) {
        Object.assign(this.params, { crop_left: left, crop_top: top, crop_right: right, crop_bottom: bottom })
      }
      return this
    }

    trim(by = 'top-left', tolerance = 0) {
      this.params.trim = true
      this.params.trim_by = by
      this.params.trim_tolerance = dimension('tolerance', tolerance)
      return this
    }

    stretch() {
      this.params.stretch = true
      return this
    }

    padding(left, top, right = left, bottom = top) {
      this.params.padding_left = dimension('padding', left)
      this.params.padding_top = dimension('padding', top)
      this.params.padding_right = dimension('padding', right)
      this.params.padding_bottom = dimension('padding', bottom)
      return this
    }

    toParams() {
      const params = { ...this.params, image: this.imagePath }
      if (this.filtersCalls.length) params.filters = this.filtersCalls.map(filterOf)
      return params
    }

    getOperationPath() {
      return generate({ ...this.toParams(), image: '' })
    }

    buildUrl() {
      if (!this.imagePath) throw new Error("The image url can't be null or empty.")
      const options = this.THUMBOR_SECURITY_KEY
        ? { secret: String(this.THUMBOR_SECURITY_KEY), ...this.signOptions }
        : { unsafe: true }
      return `${this.THUMBOR_URL_SERVER}/${generate(this.toParams(), options)}`
    }
  }

  Object.assign(ImagorUrlBuilder.prototype, {
    TOP: 'top',
    MIDDLE: 'middle',
    BOTTOM: 'bottom',
    RIGHT: 'right',
    CENTER: 'center',
    LEFT: 'left',
  })
  return ImagorUrlBuilder
}

module.exports = { create }
