//! The `cutpoint` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod remote;

/// The simulated board allocates and frees a flash image per cut; mimalloc keeps those pages
/// instead of returning them to the kernel each time (see [`cutpoint::alloc_tuning`]).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cutpoint",
    version,
    about = "Power-fault injection for firmware-update pipelines"
)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// How `cutpoint run` reports while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum MessageFormat {
    /// Progress and failures for a person, on stderr.
    Human,
    /// JSON lines on stdout (the human lines stay on stderr).
    Json,
}

/// Which cut points get a per-cut artifact folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ArtifactsArg {
    /// Failing cut points and rig errors.
    Failing,
    /// Every cut point that ran.
    All,
}

impl From<ArtifactsArg> for cutpoint_report::Artifacts {
    fn from(a: ArtifactsArg) -> Self {
        match a {
            ArtifactsArg::Failing => cutpoint_report::Artifacts::Failing,
            ArtifactsArg::All => cutpoint_report::Artifacts::All,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a campaign: control run, every cut point, reports.
    Run {
        campaign: PathBuf,
        /// Report directory (default: reports/<campaign>-<time>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run partition k of n (e.g. 2/4); `cutpoint report` merges the partitions.
        #[arg(long)]
        partition: Option<String>,
        /// Continue an interrupted run (its directory, or the newest unfinished one of this campaign).
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        resume: Option<String>,
        /// Cut points run at once on the simulated board (default: the number of cores).
        #[arg(long)]
        workers: Option<usize>,
        /// Run only the cut points whose id matches this glob (`swap/*`), or those that failed
        /// in an earlier report (`failed:REPORT_DIR`). Repeat to add more.
        #[arg(long, value_name = "GLOB|failed:DIR")]
        filter: Vec<String>,
        /// `json`: one JSON object per line on stdout for each event (control, planned, cut, end).
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
        /// Which cut points get an artifact folder (`cuts/<id>/`: console, state): `failing`
        /// (failures and rig errors) or `all`.
        #[arg(long, value_enum, default_value_t = ArtifactsArg::Failing)]
        artifacts: ArtifactsArg,
    },
    /// Validate a campaign, station or flash map file without running it or opening any device.
    Check { file: PathBuf },
    /// List the simulated boards: flash part, flash map, and the update modes each runs.
    Boards,
    /// List the cut points of a campaign, with counts per phase.
    Plan {
        campaign: PathBuf,
        #[arg(long)]
        partition: Option<String>,
        /// Print only the counts.
        #[arg(long, conflicts_with = "json")]
        counts: bool,
        /// Print the plan as one JSON document (ids, phases, counts, skipped offsets).
        #[arg(long)]
        json: bool,
        /// Only the cut points whose id matches this glob, or `failed:REPORT_DIR`. Repeatable.
        #[arg(long, value_name = "GLOB|failed:DIR")]
        filter: Vec<String>,
        /// For a campaign on a station: plan on the control run recorded in this report
        /// directory (an earlier `cutpoint run` of the campaign on the bench). Without it, the
        /// bench is not opened either: the plan lists the ids that need no control run.
        #[arg(long, value_name = "REPORT_DIR")]
        control_from: Option<PathBuf>,
    },
    /// Re-run one cut point of a report with its recorded seed and compare the outcome. With
    /// --server: RUN is a run of that daemon, replayed on its station before its queue.
    Replay {
        #[arg(value_name = "REPORT_DIR|RUN")]
        report_dir: PathBuf,
        cut_id: String,
        /// Replay through this daemon (CUTPOINT_TOKEN for the token).
        #[arg(long)]
        server: Option<String>,
        #[arg(long, requires = "server")]
        token: Option<String>,
    },
    /// Decode a flash dump or an image file.
    #[command(after_help = INSPECT_EXIT_CODES)]
    Inspect {
        file: PathBuf,
        /// Board whose built-in flash map the dump follows.
        #[arg(long, default_value = "nrf52840")]
        board: String,
        /// A flash map file instead of the board's: sector_size, write_size and [[regions]] with
        /// name, offset, size (the table of a station's [layout]).
        #[arg(long, value_name = "FILE")]
        layout: Option<PathBuf>,
        /// The primary slot, in place of the map's.
        #[arg(long, value_name = "ADDR:SIZE")]
        primary: Option<String>,
        /// The secondary slot, in place of the map's.
        #[arg(long, value_name = "ADDR:SIZE")]
        secondary: Option<String>,
        /// The scratch area, in place of the map's.
        #[arg(long, value_name = "ADDR:SIZE")]
        scratch: Option<String>,
        /// Address of the dump's first byte (default: from a `0x...` in the file name, else 0).
        #[arg(long)]
        base: Option<String>,
        /// Key to check signatures with (default: the test key): an Ed25519 or ECDSA P-256 PEM
        /// public or private key as imgtool writes them, or 32 raw Ed25519 bytes.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The bootloader's update scheme, whose metadata the dump holds (`swap-scratch`,
        /// `overwrite`, `swap-move`, `swap-offset`, `esp-idf`: both slots and otadata in the
        /// scratch region); default: MCUboot trailers and a scratch area. `--scheme` is the
        /// same flag.
        #[arg(long, value_name = "MODE", alias = "scheme", conflicts_with_all = ["image", "otadata"])]
        mode: Option<String>,
        /// Decode the file as a single image rather than a flash dump.
        #[arg(long)]
        image: bool,
        /// Decode the file as ESP-IDF otadata (two sectors) for a device with this many OTA slots.
        #[arg(long, value_name = "SLOTS", conflicts_with = "image")]
        otadata: Option<u32>,
        /// Size of one otadata sector in bytes (ESP-IDF's 0x1000 unless the part erases smaller).
        #[arg(long, value_name = "BYTES", requires = "otadata", default_value = "4096")]
        otadata_sector: u32,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild reports from journals (merging partitions).
    Report {
        dirs: Vec<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Which cut points get an artifact folder: `failing` (failures and rig errors) or `all`.
        #[arg(long, value_enum, default_value_t = ArtifactsArg::Failing)]
        artifacts: ArtifactsArg,
    },
    /// Check a bench before a nightly run: every backend opens, a power cycle really cuts,
    /// relay latency and power-on-to-banner time, the probe reads the slots.
    Doctor { station: PathBuf },
    /// Serve a lab: queue runs from CI and people over HTTP and run them on the lab's
    /// stations. Without --lab: one simulated station on 127.0.0.1, data in ./cutpoint-lab.
    Daemon {
        /// The lab file: listen address, data directory, tokens file, stations.
        #[arg(long)]
        lab: Option<PathBuf>,
        /// Listen here instead of the lab file's address (`HOST:PORT`, or a port on loopback;
        /// 0 picks a free one).
        #[arg(long)]
        listen: Option<String>,
        /// Write the URL listened on to this file once serving.
        #[arg(long, value_name = "FILE")]
        addr_file: Option<PathBuf>,
    },
    /// Submit a campaign to a daemon (it and every file it names are uploaded); prints the run's
    /// URL. With --wait: follows it, downloads the reports and exits with the run's code.
    Submit {
        campaign: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
        /// Run on this station.
        #[arg(long, conflicts_with = "tag")]
        station: Option<String>,
        /// Run on any station with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Run partition k of n (e.g. 2/4); `cutpoint report` merges the partitions.
        #[arg(long)]
        partition: Option<String>,
        /// replay, manual (default), ci or nightly: the queue takes higher ones first.
        #[arg(long)]
        priority: Option<String>,
        /// Follow the run to its end, download its reports, exit with its code (Ctrl-C cancels it).
        #[arg(long)]
        wait: bool,
        /// Where --wait puts the reports (default: reports/<campaign>-run<ID>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List a daemon's runs, newest first.
    Runs {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a run on a daemon (its number or URL).
    Cancel {
        run: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List a daemon's benches: state, health, current run, lease, queue. An admin token
    /// drains a bench (it finishes its run and takes no other) or resumes it.
    Benches {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        json: bool,
        /// Take this station out of service (admin).
        #[arg(long, value_name = "STATION", conflicts_with = "resume")]
        drain: Option<String>,
        /// Why, as `cutpoint benches` shows it (with --drain).
        #[arg(long, requires = "drain")]
        reason: Option<String>,
        /// Put this station back in service (admin); a bad one is checked before its next run.
        #[arg(long, value_name = "STATION")]
        resume: Option<String>,
    },
    /// Take a station for hands-on work: held (renewed) while this runs, released on Ctrl-C,
    /// expiring by itself after --ttl when this process dies.
    Lease {
        station: String,
        #[command(flatten)]
        server: ServerArgs,
        /// How long the lease lasts without renewal (30m, 90s, 1h).
        #[arg(long, default_value = "30m")]
        ttl: String,
        /// Who holds it, as shown by `cutpoint benches` (default: $USER).
        #[arg(long)]
        holder: Option<String>,
    },
    /// Daemon tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Build signed test images and test-only keys.
    Image {
        #[command(subcommand)]
        action: commands::ImageAction,
    },
}

/// Which daemon a client verb talks to.
#[derive(clap::Args)]
struct ServerArgs {
    /// The daemon's URL (default: $CUTPOINT_SERVER, else http://127.0.0.1:7350).
    #[arg(long)]
    server: Option<String>,
    /// Bearer token (default: $CUTPOINT_TOKEN).
    #[arg(long)]
    token: Option<String>,
}

#[derive(Subcommand)]
enum TokenAction {
    /// Make a token: printed once; its SHA-256 goes to the tokens file.
    New {
        name: String,
        /// read, submit or admin.
        #[arg(long, default_value = "submit")]
        scope: String,
        /// Append the entry to this tokens file (else it is printed).
        #[arg(long)]
        tokens: Option<PathBuf>,
    },
}

/// Colours only for a person at a terminal: not in a pipe, a log file or a CI job's capture,
/// and not when `NO_COLOR` is set to anything (https://no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

const INSPECT_EXIT_CODES: &str = "Exit codes:
  0  every image found is valid: hash, key and signature (Ed25519 or ECDSA P-256) verified
     with the key
  1  the dump decodes, but an image is invalid, signed by another key or with an algorithm
     cutpoint does not verify, or no slot holds an image
  2  bad input: not a flash dump of the map (or not an image), an unusable map, a bad flag";

fn main() -> ExitCode {
    cutpoint::alloc_tuning::keep_freed_memory();
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .init();
    let code = match cli.command {
        Command::Run {
            campaign,
            out,
            partition,
            resume,
            workers,
            filter,
            message_format,
            artifacts,
        } => commands::run(
            &campaign,
            commands::RunArgs {
                out,
                partition,
                resume,
                workers,
                filter,
                json: message_format == MessageFormat::Json,
                artifacts: artifacts.into(),
            },
        ),
        Command::Check { file } => commands::check(&file),
        Command::Boards => commands::boards(),
        Command::Plan {
            campaign,
            partition,
            counts,
            json,
            filter,
            control_from,
        } => {
            let output = match (json, counts) {
                (true, _) => commands::PlanOutput::Json,
                (false, true) => commands::PlanOutput::Counts,
                (false, false) => commands::PlanOutput::Ids,
            };
            commands::plan(
                &campaign,
                partition.as_deref(),
                &filter,
                output,
                control_from.as_deref(),
            )
        }
        Command::Replay {
            report_dir,
            cut_id,
            server: Some(server),
            token,
        } => cutpoint_daemon::client::replay(Some(server), token, &report_dir.to_string_lossy(), &cut_id),
        Command::Replay { report_dir, cut_id, .. } => commands::replay(&report_dir, &cut_id),
        Command::Inspect {
            file,
            board,
            layout,
            primary,
            secondary,
            scratch,
            base,
            key,
            mode,
            image,
            otadata,
            otadata_sector,
            json,
        } => {
            let what = match (image, otadata) {
                (_, Some(slots)) => commands::Decode::Otadata {
                    slots,
                    sector: otadata_sector,
                },
                (true, None) => commands::Decode::Image,
                (false, None) => commands::Decode::Flash,
            };
            let map = commands::MapArgs {
                board: &board,
                layout: layout.as_deref(),
                primary: primary.as_deref(),
                secondary: secondary.as_deref(),
                scratch: scratch.as_deref(),
                mode: mode.as_deref(),
            };
            commands::inspect(&file, &map, base.as_deref(), key.as_deref(), what, json)
        }
        Command::Report { dirs, out, artifacts } => commands::report(&dirs, out, artifacts.into()),
        Command::Image { action } => commands::image(action),
        Command::Daemon { lab, listen, addr_file } => remote::daemon(lab.as_deref(), listen.as_deref(), addr_file),
        Command::Submit {
            campaign,
            server,
            station,
            tag,
            partition,
            priority,
            wait,
            out,
        } => cutpoint_daemon::client::submit(cutpoint_daemon::client::SubmitArgs {
            campaign,
            server: server.server,
            token: server.token,
            station,
            tag,
            partition,
            priority,
            wait,
            out,
        }),
        Command::Runs { server, json } => cutpoint_daemon::client::runs(server.server, server.token, json),
        Command::Cancel { run, server } => cutpoint_daemon::client::cancel(server.server, server.token, &run),
        Command::Benches {
            server,
            json,
            drain,
            reason,
            resume,
        } => {
            let action = match (drain, resume) {
                (Some(s), _) => Some(cutpoint_daemon::client::BenchAction::Drain { station: s, reason }),
                (None, Some(s)) => Some(cutpoint_daemon::client::BenchAction::Resume { station: s }),
                (None, None) => None,
            };
            cutpoint_daemon::client::benches(server.server, server.token, json, action)
        }
        Command::Lease {
            station,
            server,
            ttl,
            holder,
        } => cutpoint_daemon::client::lease(server.server, server.token, &station, &ttl, holder),
        Command::Token {
            action: TokenAction::New { name, scope, tokens },
        } => remote::token_new(&name, &scope, tokens.as_deref()),
        Command::Doctor { station } => commands::doctor(&station),
    };
    ExitCode::from(code as u8)
}
