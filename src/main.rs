//! `aura-operator`: run | simulate | import | crd | scrape-config | migrate-storage |
//! backup-secrets | restore-secrets (| generate, for this
//! repository). Wiring only.
#![warn(clippy::too_many_lines)]

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aura-operator",
    version,
    about = "Kubernetes operator for Neo4j Aura"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(aura_operator::runtime::ControllerConfig),
    /// Run the local Aura API simulator (v1 and v2beta1).
    // Boxed: its flags make it far the largest variant.
    Simulate(Box<aura_operator::simulator::SimulateArgs>),
    /// Print AuraInstance manifests (ObserveOnly) for the Aura instances the
    /// credentials see, as multi-document YAML.
    Import(aura_operator::import::ImportArgs),
    /// Print the Prometheus scrape job for a project's Aura metrics (the job
    /// the operator writes as a ScrapeConfig where prometheus-operator runs).
    ScrapeConfig(aura_operator::kinds::project::scrape::ScrapeConfigArgs),
    /// Print the CustomResourceDefinitions (all, or the one with this plural),
    /// or write one file per kind into a folder.
    Crd {
        /// A kind's plural, as its file under crds/ is named.
        #[arg(conflicts_with = "dir")]
        plural: Option<String>,
        /// Write `<plural>.yaml` for every kind into this folder (and remove
        /// any other .yaml there) instead of printing.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Rewrite the objects of the promoted kinds still stored in an older
    /// version, move owner references to the storage version and trim each
    /// CRD's status.storedVersions (what the leader does at start in
    /// cluster-wide mode); uses the current kubeconfig.
    MigrateStorage,
    /// Write the operator's Secrets (connection Secrets and the like, with
    /// their passwords) and the records of AuraSnapshots and AuraRestores to
    /// a file, for a rebuild of the management cluster; uses the current
    /// kubeconfig. The file holds passwords: it is created with mode 0600.
    BackupSecrets(aura_operator::rebuild::BackupArgs),
    /// Put what backup-secrets wrote into this cluster: Secrets that are not
    /// there yet, and the records into AuraSnapshots and AuraRestores whose
    /// status is empty. Nothing already there is overwritten.
    RestoreSecrets(aura_operator::rebuild::RestoreArgs),
    /// Write every file derived from the list of kinds (CRDs in crds/,
    /// deploy/crds/ and the chart, RBAC rules, the kustomization's CRD list,
    /// the chart's Artifact Hub list) under a checkout of this repository.
    #[command(hide = true)]
    Generate {
        /// The repository's root folder.
        #[arg(long, default_value = ".")]
        root: std::path::PathBuf,
    },
}

// The benchmark's heap profile (issue 34): every allocation counted, the
// profile written when the process ends. Never in a release build.
#[cfg(feature = "heap-profile")]
#[global_allocator]
static HEAP_PROFILE: dhat::Alloc = dhat::Alloc;

// jemalloc, not glibc's malloc: glibc puts a header on every allocation and
// rounds small ones up to 32 bytes, and most of what an object costs is small
// strings (about 126 allocations per AuraInstance, with its Secret, claim and
// the controller's bookkeeping). Measured by the benchmark at 1,000 and 3,000
// objects: 30.2 -> 28.6 and 55.0 -> 50.5 MiB peak (issue 34).
#[cfg(not(feature = "heap-profile"))]
#[global_allocator]
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start (`_RJEM_MALLOC_CONF` in the
/// environment still wins): one arena and no per-thread caches (the threads
/// mostly wait on the network), freed pages given back within a second.
#[cfg(not(feature = "heap-profile"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_CONF: &u8 =
    &b"narenas:1,tcache:false,dirty_decay_ms:1000,muzzy_decay_ms:0\0"[0];

fn main() -> anyhow::Result<()> {
    // Before the runtime starts its threads: each would get an arena.
    fewer_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(cli())
}

/// glibc's malloc still serves the C libraries (aws-lc) and, with the heap
/// profile, everything. It gives every thread that allocates while another
/// does an arena of its own (up to eight per core), each keeping what its
/// thread freed; the operator's threads mostly wait on the network, and two
/// arenas serve them. `MALLOC_ARENA_MAX` in the environment still wins.
fn fewer_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_ARENA_MAX: std::ffi::c_int = -8;
        unsafe extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only sets a parameter of glibc's allocator; it
            // is called once, before any other thread exists.
            unsafe {
                mallopt(M_ARENA_MAX, 2);
            }
        }
    }
}

async fn cli() -> anyhow::Result<()> {
    #[cfg(feature = "heap-profile")]
    let _profile = std::env::var_os("AURA_HEAP_PROFILE")
        .map(|file| dhat::Profiler::builder().file_name(file).build());
    let cli = Cli::parse();
    aura_operator::install_crypto_provider();
    match cli.command {
        Command::Run(config) => {
            aura_operator::telemetry::init_logging(&config.log_format, &config.log_level);
            aura_operator::runtime::run(config).await
        }
        Command::Simulate(args) => {
            aura_operator::telemetry::init_logging("text", "info");
            aura_operator::simulator::run_cli(*args).await
        }
        Command::Import(args) => aura_operator::import::run(args).await,
        Command::MigrateStorage => {
            let client = kube::Client::try_default().await?;
            let report = aura_operator::migration::migrate(&client).await?;
            for kind in &report.kinds {
                println!(
                    "{}: {:?}, {} rewritten ({} with owner references moved)",
                    kind.kind, kind.plan, kind.rewritten, kind.owner_references_moved
                );
            }
            println!(
                "Secrets with owner references moved: {}",
                report.secrets_moved
            );
            Ok(())
        }
        Command::BackupSecrets(args) => {
            let tally = aura_operator::rebuild::run_backup(&args).await?;
            for line in &tally.lines {
                println!("{line}");
            }
            println!("written to {}", args.output.display());
            Ok(())
        }
        Command::RestoreSecrets(args) => {
            for line in aura_operator::rebuild::run_restore(&args).await?.lines {
                println!("{line}");
            }
            Ok(())
        }
        Command::ScrapeConfig(args) => {
            let job =
                aura_operator::kinds::project::scrape::print(&args).map_err(anyhow::Error::msg)?;
            print!("{job}");
            Ok(())
        }
        Command::Crd {
            dir: Some(dir),
            plural: None,
        } => {
            for path in aura_operator::api::write_crds(&dir)? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Generate { root } => {
            for path in aura_operator::api::packaging::write(&root)? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Crd {
            plural: None,
            dir: None,
        } => {
            print!("{}", aura_operator::api::crds_yaml());
            Ok(())
        }
        Command::Crd {
            plural: Some(plural),
            ..
        } => match aura_operator::api::crd_named(&plural) {
            Some(crd) => {
                print!("{}", aura_operator::api::crd_yaml(&crd));
                Ok(())
            }
            None => anyhow::bail!("no CRD with the plural {plural:?}"),
        },
    }
}
