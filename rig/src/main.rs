//! The `cutpoint` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// The simulated board allocates and frees a flash image per cut; mimalloc keeps those pages
/// instead of returning them to the kernel each time.
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
    /// Validate a campaign or station file without running it.
    Check { file: PathBuf },
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
    },
    /// Re-run one cut point of a report with its recorded seed and compare the outcome.
    Replay { report_dir: PathBuf, cut_id: String },
    /// Decode a flash dump or an image file.
    Inspect {
        file: PathBuf,
        /// Board whose flash map the dump follows.
        #[arg(long, default_value = "nrf52840")]
        board: String,
        /// Address of the dump's first byte (default: from a `0x...` in the file name, else 0).
        #[arg(long)]
        base: Option<String>,
        /// Key to check signatures with (default: the test key): an Ed25519 or ECDSA P-256 PEM
        /// public or private key as imgtool writes them, or 32 raw Ed25519 bytes.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Decode the file as a single image rather than a flash dump.
        #[arg(long)]
        image: bool,
        /// Decode the file as ESP-IDF otadata (two sectors) for a device with this many OTA slots.
        #[arg(long, value_name = "SLOTS", conflicts_with = "image")]
        otadata: Option<u32>,
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
    /// Build signed test images and test-only keys.
    Image {
        #[command(subcommand)]
        action: commands::ImageAction,
    },
}

fn main() -> ExitCode {
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
        Command::Plan {
            campaign,
            partition,
            counts,
            json,
            filter,
        } => {
            let output = match (json, counts) {
                (true, _) => commands::PlanOutput::Json,
                (false, true) => commands::PlanOutput::Counts,
                (false, false) => commands::PlanOutput::Ids,
            };
            commands::plan(&campaign, partition.as_deref(), &filter, output)
        }
        Command::Replay { report_dir, cut_id } => commands::replay(&report_dir, &cut_id),
        Command::Inspect {
            file,
            board,
            base,
            key,
            image,
            otadata,
            json,
        } => {
            let what = match (image, otadata) {
                (_, Some(slots)) => commands::Decode::Otadata { slots },
                (true, None) => commands::Decode::Image,
                (false, None) => commands::Decode::Flash,
            };
            commands::inspect(&file, &board, base.as_deref(), key.as_deref(), what, json)
        }
        Command::Report { dirs, out, artifacts } => commands::report(&dirs, out, artifacts.into()),
        Command::Image { action } => commands::image(action),
        Command::Doctor { station } => commands::doctor(&station),
    };
    ExitCode::from(code as u8)
}
