//! [`Params`]: everything an imagor path says, with imagor's JSON shape.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::go;

/// `trim` keyword: trim by the colour of the top-left pixel (the default).
pub const TRIM_BY_TOP_LEFT: &str = "top-left";
/// `trim` keyword: trim by the colour of the bottom-right pixel.
pub const TRIM_BY_BOTTOM_RIGHT: &str = "bottom-right";
/// Horizontal alignment keyword `left`.
pub const H_ALIGN_LEFT: &str = "left";
/// Horizontal alignment keyword `right`.
pub const H_ALIGN_RIGHT: &str = "right";
/// Vertical alignment keyword `top`.
pub const V_ALIGN_TOP: &str = "top";
/// Vertical alignment keyword `bottom`.
pub const V_ALIGN_BOTTOM: &str = "bottom";

/// One `name(args)` entry of the `filters:` segment, arguments kept raw.
///
/// The arguments are exactly the text between the parentheses (not
/// unescaped, not split); [`split_args`](super::split_args) splits them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Filter name, e.g. `format`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// Raw argument text, e.g. `webp` or `gopher.png,10,10`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub args: String,
}

impl Filter {
    /// A filter from its name and raw argument text.
    pub fn new(name: impl Into<String>, args: impl Into<String>) -> Self {
        Filter {
            name: name.into(),
            args: args.into(),
        }
    }
}

/// The parameters of an imagor request path.
///
/// Field names and JSON shape are imagor's (`imagorpath.Params`): zero,
/// `false` and empty values are left out when serialised, and missing (or
/// `null`) fields deserialise to their zero value. `params` (the `/params/`
/// endpoint prefix) is not part of the JSON, as in imagor.
///
/// Crop values are floats: values below 1 are fractions of the image size.
/// Integral crop values serialise as JSON integers (`10`, not `10.0`), like
/// Go's `encoding/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// The request was made to the `/params/` endpoint (not serialised).
    #[serde(skip)]
    pub params: bool,
    /// The path after the `unsafe/` or signature segment: what is signed.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub path: String,
    /// The bytes of [`path`](Self::path) when imagor's retry decoded the
    /// request path to bytes that are not UTF-8 ([`parse_query_unescaped`]):
    /// `path` then writes each invalid byte as `%XX`, and these bytes are
    /// what the signature is over, as in imagor. Not serialised; ignored
    /// once `path` no longer matches it ([`Params::path_bytes`]).
    ///
    /// [`parse_query_unescaped`]: super::parse_query_unescaped
    #[serde(skip)]
    pub path_raw: Option<Vec<u8>>,
    /// The image (query-unescaped; base64url-decoded for `b64:` images).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub image: String,
    /// The image's bytes when the URL decoded to bytes that are not UTF-8
    /// (`caf%E9.jpg`, a `b64:` of binary data); [`image`](Self::image)
    /// then shows each invalid byte as U+FFFD, as imagor's JSON does. The
    /// HTTP loader and [`generate_path`](super::generate_path) use these
    /// bytes, so such an image is fetched and written back as imagor does.
    /// Not serialised; ignored once `image` no longer matches it
    /// ([`Params::image_bytes`]).
    #[serde(skip)]
    pub image_raw: Option<Vec<u8>>,
    /// The image was given base64url-encoded (`b64:...`).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub base64_image: bool,
    /// The path started with `unsafe/`.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub r#unsafe: bool,
    /// The URL signature segment, when the path is signed.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub hash: String,
    /// `meta/`: answer with metadata JSON instead of an image.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub meta: bool,
    /// `trim/`: remove surrounding space.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub trim: bool,
    /// Reference pixel for trim: `top-left` or `bottom-right`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub trim_by: String,
    /// Colour tolerance for trim.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub trim_tolerance: i64,
    /// Crop rectangle, left edge.
    #[serde(
        skip_serializing_if = "is_zero_f64",
        serialize_with = "ser_float",
        deserialize_with = "null_default"
    )]
    pub crop_left: f64,
    /// Crop rectangle, top edge.
    #[serde(
        skip_serializing_if = "is_zero_f64",
        serialize_with = "ser_float",
        deserialize_with = "null_default"
    )]
    pub crop_top: f64,
    /// Crop rectangle, right edge.
    #[serde(
        skip_serializing_if = "is_zero_f64",
        serialize_with = "ser_float",
        deserialize_with = "null_default"
    )]
    pub crop_right: f64,
    /// Crop rectangle, bottom edge.
    #[serde(
        skip_serializing_if = "is_zero_f64",
        serialize_with = "ser_float",
        deserialize_with = "null_default"
    )]
    pub crop_bottom: f64,
    /// `fit-in/` (also set by the adaptive and full variants).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub fit_in: bool,
    /// `adaptive-fit-in/` or `adaptive-full-fit-in/`.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub adaptive_fit_in: bool,
    /// `full-fit-in/` or `adaptive-full-fit-in/`.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub full_fit_in: bool,
    /// `stretch/`: resize without keeping the aspect ratio.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub stretch: bool,
    /// Target width (0 = proportional). Negative values flip when generated.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub width: i64,
    /// Target height (0 = proportional). Negative values flip when generated.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub height: i64,
    /// Padding, left.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub padding_left: i64,
    /// Padding, top.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub padding_top: i64,
    /// Padding, right.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub padding_right: i64,
    /// Padding, bottom.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "null_default")]
    pub padding_bottom: i64,
    /// Flip horizontally (`-W` in the dimensions).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub h_flip: bool,
    /// Flip vertically (`-H` in the dimensions).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub v_flip: bool,
    /// Horizontal alignment: `left`, `right` or `center`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub h_align: String,
    /// Vertical alignment: `top`, `bottom` or `middle`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub v_align: String,
    /// `smart/`: focus the crop on detected features.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "null_default")]
    pub smart: bool,
    /// Filters in URL order.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub filters: Vec<Filter>,
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// Integral floats as integers (Go writes `10`, not `10.0`).
///
/// Only below 2^53, where the integer's digits are also the shortest
/// round-trip digits; larger values go through `serialize_f64` so that
/// [`Params::to_json`] writes Go's shortest form (`1437688808350337500`).
fn ser_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    if v.fract() == 0.0 && v.abs() < LIMIT {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// Go's `json.Unmarshal` leaves a field at its zero value for `null`.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Params {
    /// The signed path as bytes: [`path_raw`](Self::path_raw) while
    /// `path` is still its `%XX` rendering, else `path` itself.
    pub fn path_bytes(&self) -> &[u8] {
        match &self.path_raw {
            Some(raw) if go::render_pct(raw) == self.path => raw,
            _ => self.path.as_bytes(),
        }
    }

    /// The image as bytes: [`image_raw`](Self::image_raw) while `image` is
    /// still its U+FFFD rendering, else `image` itself.
    pub fn image_bytes(&self) -> &[u8] {
        match &self.image_raw {
            Some(raw) if go::lossy_eq(raw, &self.image) => raw,
            _ => self.image.as_bytes(),
        }
    }

    /// Whether a crop rectangle is set (any crop edge above 0).
    pub fn has_crop(&self) -> bool {
        self.crop_left > 0.0
            || self.crop_top > 0.0
            || self.crop_right > 0.0
            || self.crop_bottom > 0.0
    }

    /// Whether at least one filter is called `name`.
    pub fn has_filter(&self, name: &str) -> bool {
        self.filters.iter().any(|f| f.name == name)
    }

    /// Whether the request must bypass a cache of downscaled sources: a crop
    /// (original-space coordinates), `focal()`, `page(n)` with n > 1 or
    /// `dpi(n)` with n > 0 (imagor's `HasCacheBypass`).
    pub fn has_cache_bypass(&self) -> bool {
        if self.has_crop() {
            return true;
        }
        self.filters.iter().any(|f| match f.name.as_str() {
            "focal" => true,
            "page" => go::atoi(&f.args) > 1,
            "dpi" => go::atoi(&f.args) > 0,
            _ => false,
        })
    }

    /// Compact JSON, byte for byte what Go's `json.Marshal` gives for
    /// imagor's `Params` (HTML characters escaped as `\u003c`, Go's float
    /// format).
    pub fn to_json(&self) -> String {
        self.raw_image_json(gojson::to_string(self, false), "\"image\":")
    }

    /// Indented JSON (two spaces), byte for byte the body of imagor's
    /// `/params` endpoint (`json.MarshalIndent(p, "", "  ")`).
    pub fn to_json_pretty(&self) -> String {
        self.raw_image_json(gojson::to_string(self, true), "\"image\": ")
    }

    /// Go writes each invalid byte of a string as `\ufffd` (a real U+FFFD
    /// stays a character): the image's JSON value is rewritten from its
    /// bytes when it has some. `"image":` cannot occur inside a JSON string
    /// value, where every quote is escaped.
    fn raw_image_json(&self, json: String, key: &str) -> String {
        let raw = self.image_bytes();
        if raw == self.image.as_bytes() {
            return json;
        }
        let ours = format!("{key}{}", gojson::to_string(&self.image, false));
        let value = go::render_bytes(
            raw,
            |out, valid| {
                let quoted = gojson::to_string(valid, false);
                out.push_str(&quoted[1..quoted.len() - 1]);
            },
            |out, _| out.push_str("\\ufffd"),
        );
        json.replacen(&ours, &format!("{key}\"{value}\""), 1)
    }
}

/// Whether `p` has a crop rectangle ([`Params::has_crop`]).
pub fn has_crop(p: &Params) -> bool {
    p.has_crop()
}

/// Whether `p` has a filter called `name` ([`Params::has_filter`]).
pub fn has_filter(p: &Params, name: &str) -> bool {
    p.has_filter(name)
}

/// Whether `p` must bypass a source cache ([`Params::has_cache_bypass`]).
pub fn has_cache_bypass(p: &Params) -> bool {
    p.has_cache_bypass()
}

/// A `serde_json` formatter that writes strings and floats the way Go's
/// `encoding/json` does.
mod gojson {
    use std::io::{self, Write};

    use serde::Serialize;
    use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

    use super::go;

    struct GoFormatter<F>(F);

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T, pretty: bool) -> String {
        let mut out = Vec::with_capacity(256);
        let res = if pretty {
            let fmt = GoFormatter(PrettyFormatter::with_indent(b"  "));
            value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))
        } else {
            let fmt = GoFormatter(CompactFormatter);
            value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))
        };
        match res {
            // The formatter only ever writes UTF-8.
            Ok(()) => String::from_utf8(out).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    impl<F: Formatter> Formatter for GoFormatter<F> {
        fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
            w.write_all(go::json_float(value).as_bytes())
        }

        fn write_string_fragment<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> io::Result<()> {
            let mut start = 0;
            for (i, c) in fragment.char_indices() {
                let esc = match c {
                    '<' => "\\u003c",
                    '>' => "\\u003e",
                    '&' => "\\u0026",
                    '\u{2028}' => "\\u2028",
                    '\u{2029}' => "\\u2029",
                    _ => continue,
                };
                w.write_all(&fragment.as_bytes()[start..i])?;
                w.write_all(esc.as_bytes())?;
                start = i + c.len_utf8();
            }
            w.write_all(&fragment.as_bytes()[start..])
        }

        fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_array(w)
        }

        fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array(w)
        }

        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_array_value(w, first)
        }

        fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array_value(w)
        }

        fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object(w)
        }

        fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object(w)
        }

        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_object_key(w, first)
        }

        fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object_key(w)
        }

        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object_value(w)
        }

        fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object_value(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_omits_zero_values() {
        assert_eq!(Params::default().to_json(), "{}");
        let p = Params {
            image: "a<b>&c.jpg".into(),
            crop_left: 10.0,
            crop_top: 0.5,
            crop_right: 1e-7,
            width: -3,
            filters: vec![Filter::default(), Filter::new("blur", "")],
            ..Params::default()
        };
        assert_eq!(
            p.to_json(),
            r#"{"image":"a\u003cb\u003e\u0026c.jpg","crop_left":10,"crop_top":0.5,"crop_right":1e-7,"width":-3,"filters":[{},{"name":"blur"}]}"#
        );
        let back: Params = serde_json::from_str(&p.to_json()).unwrap_or_default();
        assert_eq!(back, p);
    }

    #[test]
    fn pretty_json_is_go_indent() {
        let p = Params {
            path: "x".into(),
            filters: vec![Filter::new("fill", "white")],
            ..Params::default()
        };
        assert_eq!(
            p.to_json_pretty(),
            "{\n  \"path\": \"x\",\n  \"filters\": [\n    {\n      \"name\": \"fill\",\n      \"args\": \"white\"\n    }\n  ]\n}"
        );
    }

    #[test]
    fn nulls_and_missing_fields_are_zero() {
        let p: Params =
            serde_json::from_str(r#"{"width":null,"filters":null,"unsafe":true,"params":true}"#)
                .unwrap_or_default();
        assert!(p.r#unsafe);
        assert!(!p.params);
        assert_eq!(p.width, 0);
    }

    #[test]
    fn cache_bypass_uses_atoi() {
        let p = |name: &str, args: &str| Params {
            filters: vec![Filter::new(name, args)],
            ..Params::default()
        };
        assert!(p("page", "+2").has_cache_bypass());
        assert!(!p("page", "2x").has_cache_bypass());
        assert!(p("dpi", "99999999999999999999").has_cache_bypass());
        assert!(!p("dpi", "-1").has_cache_bypass());
    }
}
