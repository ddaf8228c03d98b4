//! The `imagor` command line.
//!
//! ```text
//! imagor parse PATH                      Params JSON, as imagor's /params endpoint
//! imagor generate [--secret S | --unsafe] JSON
//! imagor sign --secret S PATH            the URL signature of PATH
//! imagor verify --secret S PATH HASH     exit 0 when HASH signs PATH
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

/// imagor-compatible URL tools (and, later, image processing).
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Nothing sensible is left to do if stderr is gone.
            let _ = writeln!(std::io::stderr().lock(), "{}", err.to_json());
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
    }
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
