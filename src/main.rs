//! `aura-operator`: run | simulate | crd. Wiring only.

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
    Run(aura_operator::controller::ControllerConfig),
    /// Run the local Aura API v1 simulator.
    Simulate(aura_operator::simulator::SimulateArgs),
    /// Print the CustomResourceDefinitions.
    Crd,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    aura_operator::install_crypto_provider();
    match cli.command {
        Command::Run(config) => {
            aura_operator::telemetry::init_logging(&config.log_format, &config.log_level);
            aura_operator::controller::run(config).await
        }
        Command::Simulate(args) => {
            aura_operator::telemetry::init_logging("text", "info");
            aura_operator::simulator::run_cli(args).await
        }
        Command::Crd => {
            print!("{}", aura_operator::api::crds_yaml());
            Ok(())
        }
    }
}
