//! The `imagor` command line.
//!
//! ```text
//! imagor parse PATH                      Params JSON, as imagor's /params endpoint
//! imagor generate [--secret S | --unsafe] JSON
//! imagor sign --secret S PATH            the URL signature of PATH
//! imagor verify --secret S PATH HASH     exit 0 when HASH signs PATH
//! imagor process INPUT PATH [-o OUT]     process an image file (`-` = stdin)
//! imagor meta INPUT [PATH]               imagor's /meta JSON of an image file
//! imagor [-flag value ...]               the HTTP server, as imagor's binary
//! imagor serve [-flag value ...]         the same, explicitly
//! ```
//!
//! Results go to stdout. Failures go to stderr as imagor's JSON error body
//! (`{"message":"...","status":N}`) with exit code 1; usage errors are
//! reported by clap (exit code 2).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use imagor::path::{self, Params};
use imagor::sign::{Signer, SignerAlg};
use imagor::{Error, Result};

/// imagor-compatible URL tools and image processing.
#[derive(Debug, Parser)]
#[command(name = "imagor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand, one `cmd_*` function per variant.
#[derive(Debug, Subcommand)]
enum Command {
    /// Parse an imagor path and print its params as JSON.
    Parse(ParseArgs),
    /// Generate an imagor path from params JSON.
    Generate(GenerateArgs),
    /// Print the URL signature of a path.
    Sign(SignArgs),
    /// Check the URL signature of a path (exit code 0 when it matches).
    Verify(VerifyArgs),
    /// Process an image file with an imagor path and write the result.
    Process(ProcessArgs),
    /// Print imagor's /meta JSON for an image file (after an optional path).
    Meta(MetaArgs),
    /// Print the formats this build loads and saves, as JSON.
    Formats,
}

/// Processing limits shared by `process` and `meta`.
#[derive(Debug, Args)]
struct LimitOpts {
    /// Options as JSON (the same fields as the library's `Options`), e.g.
    /// `{"max_width":4000,"strip_metadata":true}`.
    #[arg(long, env = "IMAGOR_OPTIONS", value_parser = clap::value_parser!(OsString))]
    options: Option<OsString>,
}

#[derive(Debug, Args)]
struct ProcessArgs {
    /// The image file (`-` reads stdin).
    #[arg(value_parser = clap::value_parser!(OsString))]
    input: OsString,
    /// An imagor path, e.g. `fit-in/300x200/filters:format(webp)`; its image
    /// segment, if any, is ignored.
    #[arg(value_parser = clap::value_parser!(OsString))]
    path: OsString,
    /// Where to write the result (default: stdout).
    #[arg(short, long, value_parser = clap::value_parser!(OsString))]
    output: Option<OsString>,
    #[command(flatten)]
    limits: LimitOpts,
}

#[derive(Debug, Args)]
struct MetaArgs {
    /// The image file (`-` reads stdin).
    #[arg(value_parser = clap::value_parser!(OsString))]
    input: OsString,
    /// An imagor path applied first, e.g. `fit-in/100x100`.
    #[arg(value_parser = clap::value_parser!(OsString), default_value = "")]
    path: OsString,
    #[command(flatten)]
    limits: LimitOpts,
}

#[derive(Debug, Args)]
struct ParseArgs {
    /// The request path, e.g. `/unsafe/fit-in/200x200/image.jpg`.
    #[arg(value_parser = clap::value_parser!(OsString))]
    path: OsString,
    /// Indent the JSON like imagor's `/params` endpoint.
    #[arg(long)]
    pretty: bool,
}

/// Signature options shared by `generate`, `sign` and `verify`.
#[derive(Debug, Args)]
struct SignerOpts {
    /// HMAC hash: sha1, sha256 or sha512.
    #[arg(long, env = "IMAGOR_SIGNER_TYPE", default_value = "sha1")]
    signer_type: String,
    /// Cut signatures to this many characters (0 or less: no cut).
    #[arg(
        long,
        env = "IMAGOR_SIGNER_TRUNCATE",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    signer_truncate: i64,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Sign the path with this secret (`HASH/path`).
    #[arg(long, env = "IMAGOR_SECRET", value_parser = clap::value_parser!(OsString), conflicts_with = "unsafe")]
    secret: Option<OsString>,
    /// Prefix the path with `unsafe/`.
    #[arg(long = "unsafe")]
    r#unsafe: bool,
    #[command(flatten)]
    signer: SignerOpts,
    /// Params as JSON, e.g. `{"width":200,"image":"a.jpg"}`.
    #[arg(value_parser = clap::value_parser!(OsString))]
    json: OsString,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// The secret.
    #[arg(long, env = "IMAGOR_SECRET", value_parser = clap::value_parser!(OsString))]
    secret: OsString,
    #[command(flatten)]
    signer: SignerOpts,
    /// The path after the signature segment, exactly as in the URL.
    #[arg(value_parser = clap::value_parser!(OsString))]
    path: OsString,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The secret.
    #[arg(long, env = "IMAGOR_SECRET", value_parser = clap::value_parser!(OsString))]
    secret: OsString,
    #[command(flatten)]
    signer: SignerOpts,
    /// The path after the signature segment, exactly as in the URL.
    #[arg(value_parser = clap::value_parser!(OsString))]
    path: OsString,
    /// The signature to check.
    #[arg(value_parser = clap::value_parser!(OsString))]
    hash: OsString,
}

/// The tool subcommands; anything else starts the server (Docker
/// entrypoints pass only flags, as to imagor's binary).
const SUBCOMMANDS: &[&str] = &[
    "parse", "generate", "sign", "verify", "process", "meta", "formats", "help",
];

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let first = args.get(1).and_then(|a| a.to_str());
    if first == Some("serve")
        || !first.is_some_and(|a| SUBCOMMANDS.contains(&a) || a == "--version" || a == "-V")
    {
        let skip = if first == Some("serve") { 2 } else { 1 };
        let flags: Vec<String> = args
            .iter()
            .skip(skip)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let code = imagor::server::cli::main(&flags);
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Nothing sensible is left to do if stderr is gone.
            let _ = writeln!(std::io::stderr().lock(), "{}", err.to_detailed_json());
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Parse(args) => cmd_parse(args),
        Command::Generate(args) => cmd_generate(args),
        Command::Sign(args) => cmd_sign(args),
        Command::Verify(args) => cmd_verify(args),
        Command::Process(args) => cmd_process(args),
        Command::Meta(args) => cmd_meta(args),
        Command::Formats => cmd_formats(),
    }
}

fn cmd_process(args: ProcessArgs) -> Result<()> {
    let imagor = configured(args.limits)?;
    let data = read_input(&imagor, args.input)?;
    let path = utf8(args.path, "PATH")?;
    warn_typo(&imagor, "process", &path);
    let out = imagor.process(&data, &path)?;
    match args.output {
        Some(file) => std::fs::write(&file, &out.data)
            .map_err(|e| Error::Internal(format!("cannot write {}: {e}", file.to_string_lossy()))),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&out.data)
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::Internal(format!("cannot write output: {e}")))
        }
    }
}

fn cmd_meta(args: MetaArgs) -> Result<()> {
    let imagor = configured(args.limits)?;
    let data = read_input(&imagor, args.input)?;
    let path = utf8(args.path, "PATH")?;
    warn_typo(&imagor, "meta", &path);
    let meta = imagor.meta(&data, &path)?;
    let json = serde_json::to_string(&meta).map_err(|e| Error::Internal(e.to_string()))?;
    print_line(&json)
}

fn cmd_formats() -> Result<()> {
    let formats = imagor::formats()?;
    let json = serde_json::to_string(&formats).map_err(|e| Error::Internal(e.to_string()))?;
    print_line(&json)
}

/// A path typo that `strict_filters` would refuse, as a warning on stderr
/// (the result is still written, as imagor would answer).
fn warn_typo(imagor: &imagor::Imagor, call: &str, path: &str) {
    if imagor.options().strict_filters {
        return;
    }
    if let Some(msg) = path::mistyped(path) {
        let _ = writeln!(std::io::stderr().lock(), "imagor {call}: warning: {msg}");
    }
}

fn configured(limits: LimitOpts) -> Result<imagor::Imagor> {
    let options = match limits.options {
        Some(json) => imagor::Options::from_json(&utf8(json, "--options")?)?,
        None => imagor::Options::default(),
    };
    imagor::Imagor::new(options)
}

/// The bytes of an input file, or stdin for `-`. A missing file is 404
/// naming the file as it was given.
/// The input's bytes, refused past `max_memory` as they are read (at most
/// one byte more is read), as [`imagor::Imagor::check_input_size`] would refuse
/// them.
fn read_input(imagor: &imagor::Imagor, input: OsString) -> Result<Vec<u8>> {
    let max = imagor.options().max_memory;
    let most = if max == 0 {
        u64::MAX
    } else {
        max.saturating_add(1)
    };
    let mut buf = Vec::new();
    let read = if input == "-" {
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin().lock(), most),
            &mut buf,
        )
        .map_err(|e| Error::Internal(format!("cannot read stdin: {e}")))
    } else {
        // A file's size is known before it is read.
        if let Ok(meta) = std::fs::metadata(&input) {
            if meta.is_file() {
                imagor.check_input_size(usize::try_from(meta.len()).unwrap_or(usize::MAX))?;
            }
        }
        std::fs::File::open(&input)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, most), &mut buf))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::not_found(&input.to_string_lossy()),
                _ => Error::Internal(format!("cannot read {}: {e}", input.to_string_lossy())),
            })
    };
    read?;
    imagor.check_input_size(buf.len())?;
    Ok(buf)
}

fn cmd_parse(args: ParseArgs) -> Result<()> {
    let params = path::parse(&utf8(args.path, "PATH")?);
    if args.pretty {
        print_line(&params.to_json_pretty())
    } else {
        print_line(&params.to_json())
    }
}

fn cmd_generate(args: GenerateArgs) -> Result<()> {
    let json = utf8(args.json, "JSON")?;
    let params: Params = serde_json::from_str(&json)
        .map_err(|e| Error::invalid_msg(format!("invalid params JSON: {e}")))?;
    let out = match args.secret {
        Some(secret) => {
            let signer = signer(&args.signer, secret)?;
            path::generate(&params, Some(&signer))
        }
        None if args.r#unsafe => path::generate_unsafe(&params),
        None => path::generate_path(&params),
    };
    print_line(&out)
}

fn cmd_sign(args: SignArgs) -> Result<()> {
    let signer = signer(&args.signer, args.secret)?;
    print_line(&signer.sign(&utf8(args.path, "PATH")?))
}

fn cmd_verify(args: VerifyArgs) -> Result<()> {
    let signer = signer(&args.signer, args.secret)?;
    let path = utf8(args.path, "PATH")?;
    let hash = utf8(args.hash, "HASH")?;
    if signer.verify(&path, &hash) {
        print_line(r#"{"valid":true}"#)
    } else {
        Err(Error::SignatureMismatch)
    }
}

fn signer(opts: &SignerOpts, secret: OsString) -> Result<Signer> {
    let alg: SignerAlg = opts.signer_type.parse()?;
    let truncate = usize::try_from(opts.signer_truncate).unwrap_or(0);
    Ok(Signer::new(alg, truncate, utf8(secret, "secret")?))
}

/// An argument as UTF-8, or a 400 error naming it.
fn utf8(arg: OsString, name: &str) -> Result<String> {
    arg.into_string()
        .map_err(|_| Error::invalid_msg(format!("{name} is not valid UTF-8")))
}

/// Write `text` and a newline to stdout; a closed pipe is an error, not a
/// panic.
fn print_line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Error::Internal(format!("cannot write output: {e}")))
}
